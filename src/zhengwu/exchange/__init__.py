"""共享交换 (the sharing exchange): directory of members, subsystems and services; the message log."""
