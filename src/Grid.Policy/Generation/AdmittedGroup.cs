namespace Grid.Policy.Generation;

/// <summary>Requests that join a <see cref="ContinuousBatch"/> together, and who gets their results back.</summary>
public sealed record AdmittedGroup(IReadOnlyList<GenerationRequest> Requests, object Owner);
