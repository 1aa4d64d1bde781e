SCENARIOS: dict[str, object] = {}
