export * from './migrate.ts'
export * from './migrations.ts'
export * from './service.ts'
