export * from './migrate.ts'
export * from './migrations.ts'
