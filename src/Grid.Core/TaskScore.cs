namespace Grid.Core;

/// <summary>Greedy accuracy and format rate of a policy on one task's held-out prompts.</summary>
public sealed record TaskScore(string Task, int Prompts, double Accuracy, double FormatRate);
