"""The manager's sheet: reading it (a Google Sheet or the local workbook), checking each row, syncing
it into the database, the Inbound tab, and writing the app's tabs back."""
