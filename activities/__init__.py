"""Everything with I/O the case workflow needs: deadlines on the working-day calendar,
notifications and delivery (orchestrator queue), and department activities that call the
adapter settings choose for each department (department queues)."""
