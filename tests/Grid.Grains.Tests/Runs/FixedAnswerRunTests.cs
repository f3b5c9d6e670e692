using Grid.Contracts.Runs;
using Grid.Grains.Rollouts;
using Grid.Grains.Tests.Infrastructure;
using Grid.Hosting;
using Grid.Hosting.Configuration;
using Grid.Hosting.Storage;
using Grid.Hosting.Weights;
using Grid.Policy.Prompting;
using Grid.Training.Settings;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Grid.Grains.Tests.Runs;

/// <summary>The fixed-answer policy that <c>grid bench</c>'s control-plane benchmark runs on: it must keep completing runs.</summary>
public sealed class FixedAnswerRunTests
{
    [Fact]
    public async Task A_fixed_answer_run_completes_every_step_with_every_group_and_trains_nothing()
    {
        const int steps = 4, prompts = 24, groupSize = 8;
        var settings = TestRuns.Smoke($"steps={steps}", $"prompts_per_step={prompts}", $"group_size={groupSize}");
        string weights = Directory.CreateTempSubdirectory("grid-fixed-answer-weights-").FullName;
        var states = new InProcessGrainStore();
        var builder = new InProcessTestClusterBuilder(1);
        builder.Options.ConfigureFileLogging = false;
        builder.Options.AssumeHomogenousSilosForTesting = false; // as GridCluster: placement filters apply
        builder.ConfigureSilo((_, silo) =>
        {
            var options = new GridSiloOptions { AllowCpuLearner = true, WeightFolder = weights, InProcessStore = states }.Validate();
            silo.AddGridMembership(options)
                .AddGridPlacement(options.GpuDevices, options.AllowCpuLearner)
                .AddGridStorage(options)
                .AddGridGrains(new RolloutEngineOptions { Policy = RolloutPolicy.FixedAnswer });
        });
        await using var cluster = builder.Build();
        await cluster.DeployAsync(TestContext.Current.CancellationToken);

        var controller = cluster.Client.GetGrain<IControllerGrain>("fixed-answer");
        await controller.Start(new RunSpec(settings, AllowCpuLearner: true))
            .WaitAsync(TestContext.Current.CancellationToken);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var status = await controller.GetStatus();
        while (status.State == RunState.Running && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
            status = await controller.GetStatus();
        }

        var reports = await controller.GetStepReports(0);
        Assert.Equal(RunState.Completed, status.State);
        Assert.Equal(Enumerable.Range(0, steps).Select(s => (long)s), reports.Select(r => r.Step));
        int completionTokens = PromptFormat.EncodeCompletion(FixedAnswerPolicy.Completion).Length;
        Assert.All(reports, r =>
        {
            Assert.Equal(prompts, r.Groups);
            Assert.Equal(0, r.FailedGroups);
            Assert.Equal(1.0, r.FormatRate); // the canned answer is well formatted, and the verifier saw it
            Assert.Equal(prompts * groupSize * completionTokens, r.TokensGenerated);
            Assert.True(r.UpdateSkipped);
            Assert.Contains("fixed-answer", r.SkipReason);
        });

        // A group that goes as planned writes its state twice: the assignment with its first attempt, then the outcome.
        Assert.Equal(steps * prompts * 2, states.Writes("group"));

        // Placeholder weights went through the weight store for every version, as real weights do.
        var store = cluster.Silos[0].SiloHost.Services.GetRequiredService<IWeightStore>();
        var latest = await store.GetLatestAsync("fixed-answer", TestContext.Current.CancellationToken);
        Assert.Equal(steps, latest!.Version);
        Assert.True(FixedAnswerPolicy.IsPlaceholder(await store.ReadAsync(latest, TestContext.Current.CancellationToken)));
        Directory.Delete(weights, recursive: true);
    }
}
