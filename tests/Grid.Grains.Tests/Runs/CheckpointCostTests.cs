using System.Diagnostics;
using Grid.Core;
using Grid.Grains.Tests.Infrastructure;
using Grid.Hosting.Weights;
using Grid.Learning.Objective;
using Grid.Policy.Checkpoints;
using Grid.Training;
using Grid.Training.Learner;
using Grid.Training.Settings;

namespace Grid.Grains.Tests.Runs;

/// <summary>
/// What checkpointing the optimizer every step costs on the README's demo model: the bytes, and the time to serialize
/// them and write them (object + record) through each weight store, beside the weights publish that already happens
/// every step. The numbers are printed; the assertions are that the checkpoint reads back identical.
/// </summary>
public sealed class CheckpointCostTests(AzuriteFixture azurite, ITestOutputHelper output) : IClassFixture<AzuriteFixture>
{
    private const int Rounds = 5;

    [Fact]
    public async Task The_demo_models_optimizer_checkpoint_round_trips_through_both_stores_and_its_cost_is_measured()
    {
        var ct = TestContext.Current.CancellationToken;
        var settings = RunSettingsLoader.Load("demo");
        var (weights, optimizer, secondsSerialize) = await OnTorchThread(() =>
        {
            var (policy, config) = PolicyRuntime.CreatePolicy(settings.Model, settings.MaxNewTokens, settings.Seed);
            using (policy)
            using (var reference = PolicyRuntime.FrozenCopy(policy, config))
            using (var learner = new GrpoLearner(policy, reference, new GrpoLossSettings(), settings.LearningRate,
                settings.WeightDecay, settings.MaxGradNorm))
            {
                learner.SaveOptimizerState(); // warm-up
                var clock = Stopwatch.StartNew();
                byte[] state = learner.SaveOptimizerState();
                return (PolicyCheckpoint.SerializeWeights(policy), state, clock.Elapsed.TotalSeconds);
            }
        });

        string folder = Directory.CreateTempSubdirectory("grid-checkpoint-cost-").FullName;
        try
        {
            output.WriteLine($"demo model (d={settings.Model.DModel}, {settings.Model.Layers} layers): weights "
                + $"{weights.Length:N0} B, optimizer state {optimizer.Length:N0} B, serialized in {secondsSerialize * 1000:F0} ms");
            await MeasureAsync("local folder", new LocalFolderWeightStore(folder), weights, optimizer, ct);
            await MeasureAsync("Azurite blob", new AzureBlobWeightStore(azurite.ConnectionString, "checkpoint-cost"),
                weights, optimizer, ct);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private async Task MeasureAsync(string name, IWeightStore store, byte[] weights, byte[] optimizer, CancellationToken ct)
    {
        var checkpoints = new LearnerCheckpointStore(store);
        var initial = await store.PublishAsync("cost", 0, weights, ct);
        var publish = new List<double>();
        var checkpoint = new List<double>();
        WeightReference latest = initial;
        for (int version = 1; version <= Rounds; version++)
        {
            var clock = Stopwatch.StartNew();
            latest = await store.PublishAsync("cost", version, weights, ct);
            publish.Add(clock.Elapsed.TotalMilliseconds);
            clock.Restart();
            await checkpoints.SaveAsync("cost", latest, optimizer, ct);
            checkpoint.Add(clock.Elapsed.TotalMilliseconds);
        }

        var restored = await checkpoints.LoadAsync("cost", initial, latest, ct);
        Assert.Equal(optimizer, restored.OptimizerState);
        Assert.Equal(weights, restored.WeightBytes);
        output.WriteLine($"{name}: weights publish median {Median(publish):F0} ms, optimizer checkpoint (object + record) "
            + $"median {Median(checkpoint):F0} ms over {Rounds} versions (all: {string.Join(", ", checkpoint.Select(m => m.ToString("F0")))} ms)");
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static Task<T> OnTorchThread<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception error)
            {
                done.SetException(error);
            }
        }, 16 * 1024 * 1024);
        thread.Start();
        return done.Task;
    }
}
