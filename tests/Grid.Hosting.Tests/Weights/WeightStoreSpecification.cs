using System.Security.Cryptography;
using Grid.Core;
using Grid.Hosting.Weights;

namespace Grid.Hosting.Tests.Weights;

/// <summary>What every <see cref="IWeightStore"/> must do; one subclass per implementation.</summary>
public abstract class WeightStoreSpecification
{
    protected abstract IWeightStore Store { get; }

    /// <summary>Changes the stored bytes behind a reference, as a bad disk or a careless operator would.</summary>
    protected abstract Task TamperAsync(WeightReference reference);

    protected static byte[] Weights(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [Fact]
    public async Task Published_weights_read_back_byte_for_byte_with_their_sha256()
    {
        byte[] weights = Weights(300_000, seed: 1);

        var reference = await Store.PublishAsync("round-trip", 7, weights, TestContext.Current.CancellationToken);
        byte[] read = await Store.ReadAsync(reference, TestContext.Current.CancellationToken);

        Assert.Equal(7, reference.Version);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(weights)), reference.Sha256);
        Assert.Equal(weights, read);
    }

    [Fact]
    public async Task A_tampered_object_is_refused_naming_the_uri_and_both_hashes()
    {
        var reference = await Store.PublishAsync("tamper", 1, Weights(10_000, seed: 2), TestContext.Current.CancellationToken);
        byte[] tampered = Weights(10_000, seed: 3);
        await TamperAsync(reference with { Sha256 = Convert.ToHexStringLower(SHA256.HashData(tampered)) });

        var error = await Assert.ThrowsAsync<WeightIntegrityException>(
            () => Store.ReadAsync(reference, TestContext.Current.CancellationToken));

        Assert.Contains(reference.Uri.ToString(), error.Message);
        Assert.Contains(reference.Sha256, error.Message);
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(tampered)), error.Message);
    }

    [Fact]
    public async Task The_latest_pointer_moves_only_after_the_new_object_is_fully_written()
    {
        var ct = TestContext.Current.CancellationToken;
        var first = await Store.PublishAsync("pointer", 1, Weights(1000, seed: 4), ct);
        byte[] second = Weights(3 << 20, seed: 5);
        var gated = new GatedStream(second, gateAt: 1 << 20);

        var publishing = Store.PublishAsync("pointer", 2, gated, ct);
        await gated.ReachedGate.WaitAsync(TimeSpan.FromSeconds(30), ct);
        var whileWriting = await Store.GetLatestAsync("pointer", ct);
        gated.Open();
        var published = await publishing;
        var afterWriting = await Store.GetLatestAsync("pointer", ct);

        Assert.Equal(first, whileWriting);
        Assert.Equal(published, afterWriting);
        Assert.Equal(second, await Store.ReadAsync(afterWriting!, ct));
    }

    [Fact]
    public async Task Of_two_published_versions_latest_is_the_newer_even_when_the_older_is_published_last()
    {
        var ct = TestContext.Current.CancellationToken;
        await Store.PublishAsync("two-versions", 1, Weights(100, seed: 6), ct);
        var newer = await Store.PublishAsync("two-versions", 2, Weights(100, seed: 7), ct);
        await Store.PublishAsync("two-versions", 1, Weights(100, seed: 8), ct);

        Assert.Equal(newer, await Store.GetLatestAsync("two-versions", ct));
    }

    [Fact]
    public async Task A_run_that_never_published_has_no_latest()
    {
        Assert.Null(await Store.GetLatestAsync("never-published", TestContext.Current.CancellationToken));
    }
}
