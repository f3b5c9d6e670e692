using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grid.Core;
using Grid.Grains.Rollouts;
using Grid.Grains.Torch;
using Grid.Hosting.Weights;
using Grid.Policy.Checkpoints;
using Grid.Policy.Generation;
using Grid.Policy.Model;
using Grid.Policy.Prompting;
using Grid.Tasks;
using Grid.Telemetry;
using Grid.Training;
using Grid.Training.Rollouts;
using Grid.Training.Settings;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Grid.Grains.Tests.Rollouts;

/// <summary>The silo's shared rollout engine against the raw batched generator it wraps.</summary>
public sealed class RolloutEngineTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("grid-engine-tests-").FullName;

    [Fact]
    public async Task Groups_submitted_concurrently_to_the_engine_get_the_completions_the_raw_generator_gives_for_their_seeds()
    {
        const int groups = 6, groupSize = 4;
        var settings = new GenerationSettings(MaxNewTokens: 16);
        var perGroup = Requests(groups, groupSize);
        var (config, weights, expected) = OnTorchThread(() =>
        {
            var config = PolicyRuntime.ConfigFor(new ModelSettings { DModel = 32, Layers = 1, Heads = 2 }, settings.MaxNewTokens);
            using var policy = new VisionLanguagePolicy(config, seed: 5);
            return (config, PolicyCheckpoint.SerializeWeights(policy), Generator.Generate(policy, perGroup.SelectMany(g => g).ToArray(), settings));
        });
        var store = new LocalFolderWeightStore(_folder);
        var reference = await store.PublishAsync("engine-equivalence", 0, weights, TestContext.Current.CancellationToken);
        using var engine = new RolloutEngine(store, new RolloutEngineOptions(), NullLogger<RolloutEngine>.Instance);

        var results = await Task.WhenAll(perGroup.Select(requests => Task.Run(() =>
            engine.GenerateAsync(new RolloutRequest("engine-equivalence", reference, config, settings, requests)))));

        var actual = results.SelectMany(r => r).ToArray();
        Assert.Equal(expected.Count, actual.Length);
        for (int i = 0; i < actual.Length; i++)
        {
            Assert.Equal(expected[i].Tokens, actual[i].Tokens);
            Assert.Equal(expected[i].EndedWithEos, actual[i].EndedWithEos);
            for (int t = 0; t < actual[i].LogProbs.Length; t++)
            {
                Assert.Equal(expected[i].LogProbs[t], actual[i].LogProbs[t], 1e-4f);
            }
        }
    }

    [Fact]
    public async Task Groups_that_arrive_while_a_batch_decodes_join_it_and_get_the_completions_they_get_alone()
    {
        const int groups = 8, groupSize = 4;
        var settings = new GenerationSettings(MaxNewTokens: 64);
        var perGroup = Requests(groups, groupSize);
        var (config, reference, expected, store) = await PublishedPolicyAsync("engine-continuous",
            new ModelSettings { DModel = 64, Layers = 2, Heads = 2 }, seed: 9, settings, perGroup);
        // No lingering: a batch opens with the first group alone, so the others can only share it by joining mid-decode.
        using var engine = new RolloutEngine(store, new RolloutEngineOptions { QuietPeriod = TimeSpan.Zero, MaxLinger = TimeSpan.Zero },
            NullLogger<RolloutEngine>.Instance);

        var tasks = new List<Task<IReadOnlyList<GenerationResult>>>();
        foreach (var requests in perGroup)
        {
            tasks.Add(engine.GenerateAsync(new RolloutRequest("engine-continuous", reference, config, settings, requests)));
            await Task.Delay(2, TestContext.Current.CancellationToken);
        }

        var results = await Task.WhenAll(tasks);

        for (int p = 0; p < groups; p++)
        {
            for (int i = 0; i < groupSize; i++)
            {
                Assert.Equal(expected[p][i].Tokens, results[p][i].Tokens);
                Assert.Equal(expected[p][i].LogProbs.Length, results[p][i].LogProbs.Length);
                for (int t = 0; t < results[p][i].LogProbs.Length; t++)
                {
                    Assert.Equal(expected[p][i].LogProbs[t], results[p][i].LogProbs[t], 1e-4f);
                }
            }
        }

        var statistics = engine.Statistics;
        Assert.Equal(groups, statistics.Requests);
        Assert.Equal(groups * groupSize, statistics.Completions);
        Assert.True(statistics.Batches < groups, $"{statistics.Batches} batches for {groups} staggered groups: none joined mid-decode.");
    }

    [Fact]
    public async Task Torch_work_given_to_the_silo_thread_runs_amid_the_engines_generation_and_leaves_the_completions_unchanged()
    {
        const int groups = 6, groupSize = 4;
        var settings = new GenerationSettings(MaxNewTokens: 32);
        var perGroup = Requests(groups, groupSize);
        var (config, reference, expected, store) = await PublishedPolicyAsync("engine-shared",
            new ModelSettings { DModel = 32, Layers = 1, Heads = 2 }, seed: 5, settings, perGroup);
        using var silo = new TorchWorker("grid-torch", RolloutEngine.SettleThreads);
        using var engine = new RolloutEngine(store, new RolloutEngineOptions { QuietPeriod = TimeSpan.Zero, MaxLinger = TimeSpan.Zero },
            NullLogger<RolloutEngine>.Instance, silo, new ModelPolicy());

        // Generation and learner-like work (a matmul with its own dispose scope, one torch thread) interleave.
        var generations = new List<Task<IReadOnlyList<GenerationResult>>>();
        var work = new List<Task<(string? Thread, float Sum)>>();
        foreach (var requests in perGroup)
        {
            generations.Add(engine.GenerateAsync(new RolloutRequest("engine-shared", reference, config, settings, requests)));
            work.Add(silo.RunAsync(() =>
            {
                PolicyRuntime.UseThreads(1);
                using var scope = TorchSharp.torch.NewDisposeScope();
                var x = TorchSharp.torch.ones(8, 8);
                return (Thread.CurrentThread.Name, x.matmul(x).sum().item<float>());
            }));
            await Task.Delay(2, TestContext.Current.CancellationToken);
        }

        var results = await Task.WhenAll(generations);
        var done = await Task.WhenAll(work);
        int threadsAfter = await silo.RunAsync(TorchSharp.torch.get_num_threads);

        Assert.All(done, d => Assert.Equal(("grid-torch", 512f), d));
        Assert.Equal(Environment.ProcessorCount, threadsAfter); // the thread set the engine's count back
        for (int p = 0; p < groups; p++)
        {
            Assert.Equal(expected[p].Select(r => r.Tokens), results[p].Select(r => r.Tokens));
        }
    }

    [Fact]
    public async Task The_engine_counts_the_time_it_has_generation_work_in_flight_as_busy_and_exports_it_as_it_goes()
    {
        const int groups = 3, groupSize = 4;
        var settings = new GenerationSettings(MaxNewTokens: 24);
        var perGroup = Requests(groups, groupSize);
        var (config, reference, _, store) = await PublishedPolicyAsync("engine-busy",
            new ModelSettings { DModel = 32, Layers = 1, Heads = 2 }, seed: 4, settings, perGroup);
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        var added = new ConcurrentQueue<double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == meters && instrument.Name == "grid_rollout_engine_busy")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, seconds, _, _) => added.Enqueue(seconds));
        listener.Start();
        using var metrics = new GridMetrics(meters);
        using var silo = new TorchWorker("grid-torch", RolloutEngine.SettleThreads);
        using var engine = new RolloutEngine(store, new RolloutEngineOptions(), NullLogger<RolloutEngine>.Instance, silo,
            new ModelPolicy(), metrics);

        Assert.Equal(0.0, Assert.Single(added)); // a new engine's series reads idle, not "no data"
        Assert.Equal(TimeSpan.Zero, engine.Statistics.Busy);

        var clock = Stopwatch.StartNew();
        await Task.WhenAll(perGroup.Select(requests =>
            engine.GenerateAsync(new RolloutRequest("engine-busy", reference, config, settings, requests))));
        await silo.RunAsync(() => true); // runs once the engine stopped serving: its last busy time is counted
        var wall = clock.Elapsed;
        var served = engine.Statistics;
        await Task.Delay(200, TestContext.Current.CancellationToken);
        var idle = engine.Statistics;

        Assert.InRange(served.Busy, TimeSpan.FromTicks(1), wall);
        Assert.True(added.Count > served.DecodeSteps, $"{added.Count} busy adds for {served.DecodeSteps} decode steps");
        Assert.Equal(served.Busy.TotalSeconds, added.Sum(), 1e-5);
        Assert.Equal(served.Busy, idle.Busy); // waiting for work is not busy
    }

    [Fact]
    public async Task An_engine_stopped_on_the_silo_thread_refuses_requests_and_leaves_the_thread_serving()
    {
        var store = new LocalFolderWeightStore(_folder);
        var config = PolicyRuntime.ConfigFor(new ModelSettings { DModel = 32, Layers = 1, Heads = 2 }, 8);
        var reference = new WeightReference(new Uri("file:///none"), 0, new string('0', 64));
        using var silo = new TorchWorker("grid-torch", RolloutEngine.SettleThreads);
        var engine = new RolloutEngine(store, new RolloutEngineOptions(), NullLogger<RolloutEngine>.Instance, silo, new ModelPolicy());

        engine.Dispose();
        var refused = await Assert.ThrowsAsync<ObjectDisposedException>(() => engine.GenerateAsync(
            new RolloutRequest("stopped", reference, config, new GenerationSettings(8), Requests(1, 2)[0])));
        int after = await silo.RunAsync(() => 7);

        Assert.Contains("shutting down", refused.Message);
        Assert.Equal(7, after);
    }

    [Fact]
    public async Task A_model_engine_refuses_fixed_answer_placeholder_weights_by_name()
    {
        var store = new LocalFolderWeightStore(_folder);
        var placeholder = await store.PublishAsync("bench-run", 0, FixedAnswerPolicy.PlaceholderWeights("bench-run", 0),
            TestContext.Current.CancellationToken);
        var config = PolicyRuntime.ConfigFor(new ModelSettings { DModel = 32, Layers = 1, Heads = 2 }, 8);
        using var engine = new RolloutEngine(store, new RolloutEngineOptions(), NullLogger<RolloutEngine>.Instance);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => engine.GenerateAsync(
            new RolloutRequest("bench-run", placeholder, config, new GenerationSettings(8), Requests(1, 2)[0])));

        Assert.Contains("fixed-answer placeholder weights", error.Message);
    }

    [Fact]
    public async Task A_fixed_answer_engine_answers_every_request_with_the_canned_completion_at_once()
    {
        var store = new LocalFolderWeightStore(_folder);
        var placeholder = await store.PublishAsync("bench-run", 0, FixedAnswerPolicy.PlaceholderWeights("bench-run", 0),
            TestContext.Current.CancellationToken);
        var config = PolicyRuntime.ConfigFor(new ModelSettings { DModel = 32, Layers = 1, Heads = 2 }, 8);
        using var engine = new RolloutEngine(store, new RolloutEngineOptions { Policy = RolloutPolicy.FixedAnswer },
            NullLogger<RolloutEngine>.Instance);

        var task = engine.GenerateAsync(new RolloutRequest("bench-run", placeholder, config, new GenerationSettings(8), Requests(1, 3)[0]));

        Assert.True(task.IsCompletedSuccessfully); // no queue, no engine thread: the grid's cost alone is measured
        var completions = await task;
        Assert.All(completions, r => Assert.Equal(FixedAnswerPolicy.Completion, PromptFormat.DecodeCompletion(r.Tokens)));
        Assert.Equal(3, completions.Count);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// A fresh policy published as version 0 of <paramref name="runId"/>, and what the raw generator gives each group
    /// alone with it.
    /// </summary>
    private async Task<(PolicyConfig Config, WeightReference Reference, IReadOnlyList<GenerationResult>[] Expected, LocalFolderWeightStore Store)>
        PublishedPolicyAsync(string runId, ModelSettings model, int seed, GenerationSettings settings, GenerationRequest[][] perGroup)
    {
        var (config, weights, expected) = OnTorchThread(() =>
        {
            var config = PolicyRuntime.ConfigFor(model, settings.MaxNewTokens);
            using var policy = new VisionLanguagePolicy(config, seed);
            return (config, PolicyCheckpoint.SerializeWeights(policy),
                perGroup.Select(g => Generator.Generate(policy, g, settings)).ToArray());
        });
        var store = new LocalFolderWeightStore(_folder);
        var reference = await store.PublishAsync(runId, 0, weights, TestContext.Current.CancellationToken);
        return (config, reference, expected, store);
    }

    private static GenerationRequest[][] Requests(int groups, int groupSize)
    {
        var task = TaskCatalog.Get("counting");
        var source = new PromptSource(3);
        return Enumerable.Range(0, groups).Select(p =>
        {
            var prompt = source.ForStep(task, 0, p, groups);
            var tokens = PromptFormat.EncodePrompt(prompt.Question);
            return Enumerable.Range(0, groupSize)
                .Select(g => new GenerationRequest(prompt.Image, tokens, SamplingSeed.For(3, 0, p, g))).ToArray();
        }).ToArray();
    }

    private static T OnTorchThread<T>(Func<T> work)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = work();
            }
            catch (Exception error)
            {
                failure = error;
            }
        }, 16 * 1024 * 1024);
        thread.Start();
        thread.Join();
        return failure is null ? result : throw new InvalidOperationException("Torch work failed.", failure);
    }
}
