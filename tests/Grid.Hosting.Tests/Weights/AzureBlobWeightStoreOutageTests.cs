using System.Diagnostics;
using Grid.Hosting.Tests.Infrastructure;
using Grid.Hosting.Weights;

namespace Grid.Hosting.Tests.Weights;

/// <summary>Own Azurite (its own class fixture), because these tests take it down.</summary>
public sealed class AzureBlobWeightStoreOutageTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task A_publish_waits_out_a_brief_storage_outage_and_succeeds()
    {
        var ct = TestContext.Current.CancellationToken;
        var store = new AzureBlobWeightStore(azurite.ConnectionString, "outage");
        await store.PublishAsync("outage-run", 1, new byte[] { 1 }, ct);
        await azurite.Server.StopAsync();

        var publishing = store.PublishAsync("outage-run", 2, new byte[] { 1, 2, 3 }, ct);
        await Task.Delay(TimeSpan.FromSeconds(2), ct);
        await azurite.Server.StartAsync();
        var published = await publishing;

        Assert.Equal(published, await store.GetLatestAsync("outage-run", ct));
        Assert.Equal(new byte[] { 1, 2, 3 }, await store.ReadAsync(published, ct));
    }

    [Fact]
    public async Task A_publish_gives_up_after_its_retry_budget_with_a_clear_error()
    {
        var ct = TestContext.Current.CancellationToken;
        var retry = new WeightStoreRetryOptions
        {
            MaxAttempts = 3,
            InitialDelay = TimeSpan.FromMilliseconds(100),
            MaxDelay = TimeSpan.FromMilliseconds(200),
        };
        var store = new AzureBlobWeightStore(azurite.ConnectionString, "down", retry);
        await azurite.Server.StopAsync();
        try
        {
            var clock = Stopwatch.StartNew();
            var error = await Assert.ThrowsAsync<WeightStoreUnavailableException>(
                () => store.PublishAsync("down-run", 1, new byte[] { 1 }, ct));

            Assert.Contains("failed 3 times", error.Message);
            Assert.Contains("reachable", error.Message);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"gave up after {clock.Elapsed}");
        }
        finally
        {
            await azurite.Server.StartAsync();
        }
    }
}
