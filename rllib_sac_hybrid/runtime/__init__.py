"""Running HybridSAC on Ray: EnvRunners, their placement on robot machines, several learners,
a local cluster for tests, episode metrics and greedy evaluation."""
