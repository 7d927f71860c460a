"""Loss functions shared by training schemes (one module per family; import the module you need)."""
