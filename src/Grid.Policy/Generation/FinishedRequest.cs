namespace Grid.Policy.Generation;

/// <summary>A request that finished in <see cref="ContinuousBatch.Step"/>: its owner, its index in its admission, its result.</summary>
public sealed record FinishedRequest(object Owner, int Index, GenerationResult Result);
