namespace Grid.Grains.Rollouts;

/// <summary>What a rollout engine has done since the silo started.</summary>
/// <param name="Batches">Continuous batches opened (each runs until its last row finishes).</param>
/// <param name="DecodeSteps">Decode steps over all batches (one token for every row of a batch).</param>
/// <param name="Requests">Group requests served (each holds G completions).</param>
/// <param name="Completions">Completions generated.</param>
/// <param name="WeightLoads">Times the engine loaded a policy version from the weight store.</param>
/// <param name="Busy">
/// Time the engine had generation work in flight: from taking a request while idle until no request waits (gathering,
/// loading weights, decoding, and the silo thread's other work it runs between decode steps), counted after each decode
/// step. Wall time minus this is the engine's idle time.
/// </param>
public sealed record RolloutEngineStatistics(
    long Batches, long DecodeSteps, long Requests, long Completions, long WeightLoads, TimeSpan Busy);
