namespace Grid.Hosting.Tests.Grains;

/// <summary>Persisted with the Orleans binary serializer through the "grid" provider.</summary>
[GenerateSerializer]
[Alias("grid.tests.CounterState")]
public sealed class CounterState
{
    [Id(0)]
    public int Total { get; set; }

    [Id(1)]
    public List<string> History { get; set; } = [];
}
