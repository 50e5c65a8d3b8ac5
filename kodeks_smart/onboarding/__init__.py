"""Onboarding: a distributor's lists become monitored objects, and every client gets an agent kit.

* `reading` turns CSV (UTF-8, UTF-8 BOM, UTF-16, Windows-1251; ``,`` ``;`` tab) and XLSX into tables;
* `parse` reads SMART's templates (`formats`) and the original ``managers.csv`` / ``online.csv``;
* `plan` compares the lists with the dealer's rows, `apply` writes the plan, `service` runs the whole
  import in one transaction, `report` renders the result;
* `kits` writes the agent scripts, schedules and instructions for one client.
"""
