export const harnessPlaceholder = true;
