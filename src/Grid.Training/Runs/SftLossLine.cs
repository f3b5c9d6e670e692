namespace Grid.Training.Runs;

/// <summary>One line of a run folder's <c>sft.jsonl</c>: the loss after an SFT optimizer step.</summary>
public sealed record SftLossLine(int Step, double Loss);
