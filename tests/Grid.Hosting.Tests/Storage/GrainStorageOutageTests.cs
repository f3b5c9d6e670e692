using System.Diagnostics;
using Grid.Hosting.Configuration;
using Grid.Hosting.Tests.Grains;
using Grid.Hosting.Tests.Infrastructure;

namespace Grid.Hosting.Tests.Storage;

/// <summary>
/// Grid's Azure grain storage waits out a brief outage: a state write made while Azurite is stopped completes once it
/// is back, instead of failing the grain's turn. Own Azurite (its own class fixture), because the test takes it down.
/// </summary>
public sealed class GrainStorageOutageTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task A_state_write_during_a_10_s_storage_outage_completes_when_storage_is_back()
    {
        var ct = TestContext.Current.CancellationToken;
        string suffix = Guid.NewGuid().ToString("N")[..8];
        await using var cluster = await PlacementCluster.StartAsync([SiloRole.Plain], configureSilo: null,
            TimeSpan.FromSeconds(90), ($"outage-{suffix}", o => o with
            {
                Storage = StorageMode.Azure,
                AzureStorageConnectionString = azurite.ConnectionString,
                WeightContainer = $"outage-{suffix}",
            }));
        var counter = cluster.Client.GetGrain<ICounterGrain>("outage-counter");
        Assert.Equal(1, await counter.Add(1));

        await azurite.Server.StopAsync();
        var clock = Stopwatch.StartNew();
        var adding = counter.Add(2);
        await Task.Delay(TimeSpan.FromSeconds(10), ct);
        Assert.False(adding.IsCompleted, "the write should wait for storage, not finish or fail while it is down");
        await azurite.Server.StartAsync();
        double secondsDown = clock.Elapsed.TotalSeconds;

        Assert.Equal(3, await adding.WaitAsync(TimeSpan.FromSeconds(60), ct));
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"storage down {secondsDown:F1} s; the write completed {clock.Elapsed.TotalSeconds - secondsDown:F1} s after it was back");
        Assert.Equal(6, await counter.Add(3)); // and the grain carries on
    }
}
