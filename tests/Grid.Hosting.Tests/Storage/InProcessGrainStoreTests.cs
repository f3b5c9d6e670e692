using Grid.Hosting.Storage;
using Grid.Hosting.Tests.Grains;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Storage;

namespace Grid.Hosting.Tests.Storage;

/// <summary>
/// The grain storage of a cluster living in one process: providers on different silos that share a store see each
/// other's writes (a grain reactivated on another silo finds its state), and ETags keep a stale activation from
/// overwriting a newer state, as Azure Table does.
/// </summary>
public sealed class InProcessGrainStoreTests
{
    private static readonly GrainId Grain = GrainId.Create("counter", "c1");
    private static readonly IServiceProvider Services = new ServiceCollection()
        .AddSerializer(s => s.AddAssembly(typeof(CounterState).Assembly)).BuildServiceProvider();

    private readonly DeepCopier _copier = Services.GetRequiredService<DeepCopier>();

    [Fact]
    public async Task A_store_with_a_folder_hands_its_states_to_a_new_process_store_on_that_folder()
    {
        string folder = Directory.CreateTempSubdirectory("grid-state-").FullName;
        try
        {
            var killed = Persisted(new InProcessGrainStore(folder));
            var kept = State(total: 3, "+1", "+2");
            await killed.WriteStateAsync("counter", Grain, kept);
            var cleared = State(total: 1, "+1");
            await killed.WriteStateAsync("counter", GrainId.Create("counter", "gone"), cleared);
            await killed.ClearStateAsync("counter", GrainId.Create("counter", "gone"), cleared);
            File.WriteAllText(Path.Combine(folder, "half-written.state.tmp"), "cut short by a kill");

            var next = new InProcessGrainStore(folder);
            var resumed = Persisted(next);
            var read = new GrainState<CounterState>();
            await resumed.ReadStateAsync("counter", Grain, read);
            var gone = new GrainState<CounterState>();
            await resumed.ReadStateAsync("counter", GrainId.Create("counter", "gone"), gone);

            Assert.True(read.RecordExists);
            Assert.Equal(kept.ETag, read.ETag);
            Assert.Equal(["+1", "+2"], read.State.History);
            Assert.False(gone.RecordExists);
            Assert.Single(Directory.GetFiles(folder)); // the cleared state's file and the unfinished replacement are gone
            Assert.True(long.Parse(next.NextETag()) > long.Parse(kept.ETag!)); // new ETags never repeat the stored ones
            read.State.Total = 4;
            await resumed.WriteStateAsync("counter", Grain, read); // the stored ETag is the one read back
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_state_written_on_one_silo_is_read_on_another_with_its_etag()
    {
        var store = new InProcessGrainStore();
        var silo1 = Provider(store);
        var silo2 = Provider(store);
        var written = State(total: 3, "+1", "+2");
        await silo1.WriteStateAsync("counter", Grain, written);

        var read = new GrainState<CounterState>();
        await silo2.ReadStateAsync("counter", Grain, read);

        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        Assert.Equal(3, read.State.Total);
        Assert.Equal(["+1", "+2"], read.State.History);
    }

    [Fact]
    public async Task The_store_keeps_its_own_copy_so_changes_after_a_write_or_a_read_do_not_leak()
    {
        var store = new InProcessGrainStore();
        var provider = Provider(store);
        var written = State(total: 1, "+1");
        await provider.WriteStateAsync("counter", Grain, written);
        written.State.Total = 50;
        written.State.History.Add("+49");

        var first = new GrainState<CounterState>();
        await provider.ReadStateAsync("counter", Grain, first);
        first.State.Total = 60;
        first.State.History.Clear();
        var second = new GrainState<CounterState>();
        await provider.ReadStateAsync("counter", Grain, second);

        Assert.Equal(1, second.State.Total);
        Assert.Equal(["+1"], second.State.History);
        Assert.NotSame(first.State, second.State);
    }

    [Fact]
    public async Task A_grain_never_written_reads_a_fresh_state_and_no_record()
    {
        var read = new GrainState<CounterState>();
        await Provider(new InProcessGrainStore()).ReadStateAsync("counter", Grain, read);

        Assert.False(read.RecordExists);
        Assert.Null(read.ETag);
        Assert.Equal(0, read.State.Total);
    }

    [Fact]
    public async Task A_write_with_a_stale_etag_is_refused_and_leaves_the_newer_state()
    {
        var store = new InProcessGrainStore();
        var provider = Provider(store);
        var first = State(total: 1);
        await provider.WriteStateAsync("counter", Grain, first);
        var stale = new GrainState<CounterState> { State = new CounterState { Total = 99 }, ETag = first.ETag };
        first.State.Total = 2;
        await provider.WriteStateAsync("counter", Grain, first); // the newer write moves the ETag on

        var error = await Assert.ThrowsAsync<InconsistentStateException>(() => provider.WriteStateAsync("counter", Grain, stale));
        Assert.Contains("counter", error.Message);
        Assert.Contains("Only one activation", error.Message);

        var read = new GrainState<CounterState>();
        await provider.ReadStateAsync("counter", Grain, read);
        Assert.Equal(2, read.State.Total);
        Assert.Equal(2, store.Writes("counter")); // the refused write is not counted
        Assert.Equal(0, store.Writes("other"));
    }

    [Fact]
    public async Task Two_activations_that_both_think_the_grain_is_new_cannot_both_create_it()
    {
        var store = new InProcessGrainStore();
        await Provider(store).WriteStateAsync("counter", Grain, State(total: 1));

        await Assert.ThrowsAsync<InconsistentStateException>(() => Provider(store).WriteStateAsync("counter", Grain, State(total: 5)));
    }

    [Fact]
    public async Task Clearing_removes_the_state_and_services_and_providers_do_not_see_each_other()
    {
        var store = new InProcessGrainStore();
        var state = State(total: 4);
        await Provider(store).WriteStateAsync("counter", Grain, state);
        await Provider(store, name: "other").WriteStateAsync("counter", Grain, State(total: 7));
        await Provider(store, serviceId: "other-service").WriteStateAsync("counter", Grain, State(total: 8));
        Assert.Equal(3, store.Count);

        await Provider(store).ClearStateAsync("counter", Grain, state);

        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
        Assert.Equal(2, store.Count);
        var other = new GrainState<CounterState>();
        await Provider(store, name: "other").ReadStateAsync("counter", Grain, other);
        Assert.Equal(7, other.State.Total);
    }

    private InProcessGrainStorage Provider(InProcessGrainStore store, string name = GridStorage.Grain, string serviceId = "svc") =>
        new(name, serviceId, store, _copier);

    private InProcessGrainStorage Persisted(InProcessGrainStore store) =>
        new(GridStorage.Grain, "svc", store, _copier, Services.GetRequiredService<Serializer>());

    private static GrainState<CounterState> State(int total, params string[] history) =>
        new() { State = new CounterState { Total = total, History = [.. history] } };
}
