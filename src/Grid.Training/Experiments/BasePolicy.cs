namespace Grid.Training.Experiments;

/// <summary>The policy every arm starts from: its checkpoint folder and the sha256 of its weights (from its manifest).</summary>
/// <param name="WarmStarted">True when the study ran the default warm start itself; false for a given --base.</param>
/// <param name="RunFolder">The base arm's run folder, relative to the experiment folder.</param>
public sealed record BasePolicy(string Checkpoint, string Sha256, bool WarmStarted, string RunFolder);
