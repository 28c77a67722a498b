"""Working days and deadlines: mainland China's official calendar (days), loading a
new year or override into the database (loader), and the deadline rules with their timers."""
