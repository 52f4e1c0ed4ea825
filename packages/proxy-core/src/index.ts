// Filled by the restructuring step that moves the shared proxy pieces here.
export {};
