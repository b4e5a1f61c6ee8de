"""The demo installation: a fictional provincial platform with departments at three levels and users for
every role. Region codes and names come from the shipped GB/T 2260 table; every person, department
account and company in it is invented."""
