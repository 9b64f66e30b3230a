"""Cases: authorised, time-limited searches for named people, and identification within them."""
