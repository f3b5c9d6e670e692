using Grid.Hosting.Storage;

namespace Grid.Hosting.Tests.Grains;

public sealed class CounterGrain([PersistentState("counter", GridStorage.Grain)] IPersistentState<CounterState> counter)
    : Grain, ICounterGrain
{
    public async Task<int> Add(int amount)
    {
        counter.State.Total += amount;
        counter.State.History.Add($"+{amount}");
        await counter.WriteStateAsync();
        return counter.State.Total;
    }

    public Task<CounterState> Get() => Task.FromResult(counter.State);
}
