"""Where light curves come from: download registry, survey readers, simulators."""
