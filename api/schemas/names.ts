/** Model names: lowercase letters, digits, ".", "_" and "-", as topics, workflow IDs and paths can carry them. */
export const modelNamePattern = '^[a-z0-9][a-z0-9._-]{0,62}$';
