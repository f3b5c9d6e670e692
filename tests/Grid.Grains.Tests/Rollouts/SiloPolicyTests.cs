using Grid.Core;
using Grid.Grains.Rollouts;
using Grid.Grains.Torch;
using Grid.Hosting.Weights;
using Grid.Policy.Generation;
using Grid.Policy.Prompting;
using Grid.Training;
using Grid.Training.Settings;
using Microsoft.Extensions.Logging.Abstractions;

namespace Grid.Grains.Tests.Rollouts;

/// <summary>The policy strategy a silo is built with (<see cref="ISiloPolicy"/>), and the engine asking it.</summary>
public sealed class SiloPolicyTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("grid-silo-policy-tests-").FullName;

    [Fact]
    public void The_options_choose_the_model_for_training_and_the_fixed_answer_for_benchmarks()
    {
        Assert.IsType<ModelPolicy>(SiloPolicies.For(RolloutPolicy.Model));
        Assert.IsType<FixedAnswerPolicy>(SiloPolicies.For(RolloutPolicy.FixedAnswer));
        Assert.IsType<ModelPolicy>(SiloPolicies.For(new RolloutEngineOptions().Policy)); // the default trains
        Assert.Throws<ArgumentOutOfRangeException>(() => SiloPolicies.For((RolloutPolicy)7));
    }

    [Fact]
    public async Task The_model_leaves_generation_to_the_engine_and_the_fixed_answer_answers_every_row_at_once()
    {
        var request = Request("run", new WeightReference(new Uri("file:///w"), 0, new string('0', 64)), rows: 3);

        Assert.Null(new ModelPolicy().AnswerAsync(request));
        var answering = new FixedAnswerPolicy().AnswerAsync(request);

        Assert.NotNull(answering);
        Assert.True(answering.IsCompletedSuccessfully); // at once: no cost model
        var answered = await answering;
        Assert.Equal(3, answered.Count);
        Assert.All(answered, r => Assert.Equal(FixedAnswerPolicy.Completion, PromptFormat.DecodeCompletion(r.Tokens)));
    }

    [Fact]
    public async Task An_engine_built_with_a_strategy_answers_through_it_without_its_thread()
    {
        var store = new LocalFolderWeightStore(_folder);
        var placeholder = await store.PublishAsync("bench-run", 0, FixedAnswerPolicy.PlaceholderWeights("bench-run", 0),
            TestContext.Current.CancellationToken);
        using var thread = new TorchWorker("grid-test");
        var policy = new CountingPolicy();
        using var engine = new RolloutEngine(store, new RolloutEngineOptions(), NullLogger<RolloutEngine>.Instance, thread, policy);

        var completions = await engine.GenerateAsync(Request("bench-run", placeholder, rows: 2));

        Assert.Equal(1, policy.Answered);
        Assert.Equal(2, completions.Count);
        Assert.Equal(1, engine.Statistics.Requests);
        Assert.Equal(0, engine.Statistics.Batches);
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

    private static RolloutRequest Request(string runId, WeightReference weights, int rows)
    {
        var config = PolicyRuntime.ConfigFor(new ModelSettings { DModel = 32, Layers = 1, Heads = 2 }, 8);
        var image = new Tasks.Images.RgbImage(config.ImageSize, config.ImageSize, new byte[config.ImageSize * config.ImageSize * 3]);
        var prompt = PromptFormat.EncodePrompt("How many?");
        return new RolloutRequest(runId, weights, config, new GenerationSettings(8),
            Enumerable.Range(0, rows).Select(i => new GenerationRequest(image, prompt, (ulong)i)).ToArray());
    }

    /// <summary>A test strategy: answers like the fixed answer, counting the requests it answered.</summary>
    private sealed class CountingPolicy : ISiloPolicy
    {
        public int Answered { get; private set; }

        public Task<IReadOnlyList<GenerationResult>>? AnswerAsync(RolloutRequest request)
        {
            Answered++;
            return Task.FromResult(FixedAnswerPolicy.Completions(request.Requests.Count));
        }

        public Learner.ILearnerModel CreateLearner(Learner.LearnerContext context) => throw new NotSupportedException();
    }
}
