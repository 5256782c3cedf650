"""The daily habit: who each rep calls today, the morning call list, the script, and logging a call."""
