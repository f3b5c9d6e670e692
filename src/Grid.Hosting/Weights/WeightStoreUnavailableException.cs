namespace Grid.Hosting.Weights;

/// <summary>The weight store kept failing with transient errors until the retry budget ran out.</summary>
public sealed class WeightStoreUnavailableException(string message, Exception lastError) : Exception(message, lastError);
