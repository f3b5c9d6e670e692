namespace Grid.Hosting.Tests.Grains;

/// <summary>A persisted counter.</summary>
public interface ICounterGrain : IGrainWithStringKey
{
    Task<int> Add(int amount);

    Task<CounterState> Get();
}
