using Grid.Core;
using Grid.Telemetry.Tests.Support;

namespace Grid.Telemetry.Tests;

public sealed class MetricsEndpointTests : IAsyncLifetime
{
    private GridMetricsServer _server = null!;

    private GridMetrics Metrics => _server.Metrics!;

    public async ValueTask InitializeAsync() =>
        _server = await GridMetricsServer.StartAsync(
            new GridTelemetryOptions { Port = 0, IncludeOrleans = false, ScrapeCacheMilliseconds = 0 },
            TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task A_step_is_exported_as_the_runs_latest_values_under_the_documented_names()
    {
        Metrics.RecordStep("run-a", Steps.Report(step: 6, beta: 0.5));
        Metrics.RecordStep("run-a", Steps.Report(step: 7, beta: 0.0125));

        var scrape = await Scrape.GetAsync(_server.Endpoint);

        var run = ("run", "run-a");
        Assert.Equal(7, scrape.Value("grid_step", run));
        Assert.Equal(7, scrape.Value("grid_policy_version", run));
        Assert.Equal(0.0125, scrape.Value("grid_kl_beta", run));
        Assert.Equal(0.61, scrape.Value("grid_reward_mean", run, ("component", "total")));
        Assert.Equal(0.55, scrape.Value("grid_reward_mean", run, ("component", "accuracy")));
        Assert.Equal(0.6, scrape.Value("grid_reward_mean", run, ("component", "format")));
        Assert.Equal(0.27, scrape.Value("grid_reward_std", run));
        Assert.Equal(0.55, scrape.Value("grid_accuracy", run));
        Assert.Equal(0.6, scrape.Value("grid_format_rate", run));
        Assert.Equal(0.125, scrape.Value("grid_zero_std_group_fraction", run));
        Assert.Equal(0.0042, scrape.Value("grid_kl_mean", run));
        Assert.Equal(-0.031, scrape.Value("grid_policy_loss", run));
        Assert.Equal(0.03, scrape.Value("grid_clip_fraction", run, ("side", "low")));
        Assert.Equal(0.04, scrape.Value("grid_clip_fraction", run, ("side", "high")));
        Assert.Equal(0.07, scrape.Value("grid_clip_fraction", run, ("side", "total")));
        Assert.Equal(1.9, scrape.Value("grid_entropy", run));
        Assert.Equal(23.5, scrape.Value("grid_completion_length_mean", run));
        Assert.Equal(48, scrape.Value("grid_completion_length_max", run));
        Assert.Equal(0.88, scrape.Value("grid_grad_norm", run));
        Assert.Equal(8, scrape.Value("grid_step_groups", run));
        Assert.Equal(1.5, scrape.Value("grid_step_duration_seconds", run, ("phase", "rollout")));
        Assert.Equal(0.02, scrape.Value("grid_step_duration_seconds", run, ("phase", "reward")));
        Assert.Equal(0.3, scrape.Value("grid_step_duration_seconds", run, ("phase", "reference")));
        Assert.Equal(0.9, scrape.Value("grid_step_duration_seconds", run, ("phase", "update")));
        Assert.Equal(0.05, scrape.Value("grid_step_duration_seconds", run, ("phase", "publish")));
        Assert.Equal(512.0 * 1024 * 1024, scrape.Value("grid_learner_resident_memory_bytes", run));
        Assert.Equal(1.07, scrape.Value("grid_importance_weight_mean", run));
        Assert.Equal(2.5, scrape.Value("grid_importance_weight_max", run));
        Assert.Equal(0.015, scrape.Value("grid_importance_weight_capped_fraction", run));
        Assert.Equal(0.35, scrape.Value("grid_learner_idle_fraction", run));
        Assert.InRange(scrape.Value("grid_learner_last_step_timestamp_seconds", run),
            DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60, DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);
    }

    [Fact]
    public async Task The_latest_validation_is_exported_by_task_and_kept_through_steps_without_one()
    {
        Metrics.RecordStep("run-v", Steps.Report(step: 0, beta: 0.01) with
        {
            ValidationStart = Steps.Validation(policyVersion: 0, counting: 0.25, geometry: 0.5),
            SecondsValidation = 1.25,
        });
        Metrics.RecordStep("run-v", Steps.Report(step: 1, beta: 0.01) with
        {
            Validation = Steps.Validation(policyVersion: 2, counting: 0.375, geometry: 0.625),
            SecondsValidation = 0.75,
        });
        Metrics.RecordStep("run-v", Steps.Report(step: 2, beta: 0.01));

        var scrape = await Scrape.GetAsync(_server.Endpoint);

        var run = ("run", "run-v");
        Assert.Equal(0.375, scrape.Value("grid_validation_accuracy", run, ("task", "counting")));
        Assert.Equal(0.625, scrape.Value("grid_validation_accuracy", run, ("task", "geometry")));
        Assert.Equal(0, scrape.Value("grid_step_duration_seconds", run, ("phase", "validation")));
    }

    [Fact]
    public async Task Each_trained_group_is_observed_at_its_staleness_and_refused_stale_groups_are_counted()
    {
        Metrics.RecordStep("run-s", Steps.Report(step: 4, beta: 0.01) with
        {
            StalenessGroups = [3, 1],
            DroppedStaleGroups = 2,
            ImportanceWeightMean = 1.125,
            ImportanceWeightMax = 3.5,
            ImportanceWeightCappedFraction = 0.0625,
            LearnerIdleFraction = 0.4,
        });
        var first = await Scrape.GetAsync(_server.Endpoint);
        Metrics.RecordStep("run-s", Steps.Report(step: 5, beta: 0.01) with
        {
            StalenessGroups = [2, 0, 1, 0, 0, 0, 0, 1],
            DroppedStaleGroups = 0,
            ImportanceWeightMean = 1.25,
            ImportanceWeightMax = 2,
            ImportanceWeightCappedFraction = 0.03125,
            LearnerIdleFraction = 0.25,
        });
        var second = await Scrape.GetAsync(_server.Endpoint);

        var run = ("run", "run-s");
        // After the first step: 3 groups at lag 0, 1 at lag 1 (cumulative buckets, one observation per group).
        Assert.Equal(4, first.Value("grid_group_staleness_count", run));
        Assert.Equal(1, first.Value("grid_group_staleness_sum", run));
        Assert.Equal(3, first.Value("grid_group_staleness_bucket", run, ("le", "0")));
        Assert.Equal(4, first.Value("grid_group_staleness_bucket", run, ("le", "1")));
        Assert.Equal(4, first.Value("grid_group_staleness_bucket", run, ("le", "+Inf")));
        Assert.Equal(2, first.Value("grid_groups_dropped_stale_total", run));
        Assert.Equal(1.125, first.Value("grid_importance_weight_mean", run));
        Assert.Equal(3.5, first.Value("grid_importance_weight_max", run));
        Assert.Equal(0.0625, first.Value("grid_importance_weight_capped_fraction", run));
        Assert.Equal(0.4, first.Value("grid_learner_idle_fraction", run));

        // The second adds 2 at lag 0, 1 at lag 2 and 1 at lag 7 (bucket 8); the gauges hold its values.
        string[] boundaries = ["0", "1", "2", "3", "4", "6", "8", "12", "16", "+Inf"];
        double[] cumulative = [5, 6, 7, 7, 7, 7, 8, 8, 8, 8];
        Assert.Equal(cumulative, boundaries.Select(le => second.Value("grid_group_staleness_bucket", run, ("le", le))));
        Assert.Equal(boundaries.Length, second.Where("grid_group_staleness_bucket", run).Count());
        Assert.Equal(8, second.Value("grid_group_staleness_count", run));
        Assert.Equal(1 + 2 + 7, second.Value("grid_group_staleness_sum", run));
        Assert.Equal(2, second.Value("grid_groups_dropped_stale_total", run));
        Assert.Equal(1.25, second.Value("grid_importance_weight_mean", run));
        Assert.Equal(2, second.Value("grid_importance_weight_max", run));
        Assert.Equal(0.03125, second.Value("grid_importance_weight_capped_fraction", run));
        Assert.Equal(0.25, second.Value("grid_learner_idle_fraction", run));
    }

    [Fact]
    public async Task The_engines_busy_seconds_exist_at_zero_and_add_up()
    {
        Metrics.EngineBusy(0);
        var idle = await Scrape.GetAsync(_server.Endpoint);
        Metrics.EngineBusy(0.25);
        Metrics.EngineBusy(0.5);
        var busy = await Scrape.GetAsync(_server.Endpoint);

        Assert.Equal(0, idle.Value("grid_rollout_engine_busy_seconds_total"));
        Assert.Equal(0.75, busy.Value("grid_rollout_engine_busy_seconds_total"));
        Assert.Throws<ArgumentOutOfRangeException>(() => Metrics.EngineBusy(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Metrics.EngineBusy(double.NaN));
    }

    [Fact]
    public async Task Step_counters_add_up_over_the_steps_of_a_run()
    {
        Metrics.RecordStep("run-b", Steps.Report(step: 0, beta: 0.01));
        Metrics.RecordStep("run-b", Steps.Report(step: 1, beta: 0.01) with { UpdateSkipped = true, SkipReason = "no signal" });

        var scrape = await Scrape.GetAsync(_server.Endpoint);

        Assert.Equal(2, scrape.Value("grid_steps_total", ("run", "run-b")));
        Assert.Equal(2 * 752, scrape.Value("grid_tokens_generated_total", ("run", "run-b")));
        Assert.Equal(1, scrape.Value("grid_updates_skipped_total", ("run", "run-b")));
    }

    [Fact]
    public async Task A_non_finite_step_value_is_not_exported_and_is_counted_by_metric_instead()
    {
        Metrics.RecordStep("run-n", Steps.Report(step: 0, beta: 0.01));
        Metrics.RecordStep("run-n", Steps.Report(step: 1, beta: 0.01) with
        {
            Loss = double.NaN,
            Entropy = double.NegativeInfinity,
            GradNorm = double.PositiveInfinity,
            KlMean = 0.005,
            UpdateSkipped = true,
            SkipReason = "every group of step 1 failed",
        });
        Metrics.RecordStep("run-n", Steps.Report(step: 2, beta: 0.01) with { Loss = double.NaN });

        var scrape = await Scrape.GetAsync(_server.Endpoint);

        var run = ("run", "run-n");
        Assert.All(scrape.Samples.Where(s => s.Has("run", "run-n")), s => Assert.True(double.IsFinite(s.Value), s.ToString()));
        Assert.Equal(-0.031, scrape.Value("grid_policy_loss", run));
        Assert.Equal(1.9, scrape.Value("grid_entropy", run));
        Assert.Equal(0.88, scrape.Value("grid_grad_norm", run));
        Assert.Equal(0.0042, scrape.Value("grid_kl_mean", run));
        Assert.Equal(2, scrape.Value("grid_step", run));
        Assert.Equal(2, scrape.Value("grid_nonfinite_metrics_total", run, ("metric", "grid_policy_loss")));
        Assert.Equal(1, scrape.Value("grid_nonfinite_metrics_total", run, ("metric", "grid_entropy")));
        Assert.Equal(1, scrape.Value("grid_nonfinite_metrics_total", run, ("metric", "grid_grad_norm")));
        Assert.Equal(3, scrape.Where("grid_nonfinite_metrics_total", run).Count());
        Assert.Equal(1, scrape.Value("grid_updates_skipped_total", run));
        Assert.Contains("`grid_nonfinite_metrics_total`", File.ReadAllText(RepoPaths.MetricsDoc));
    }

    [Fact]
    public async Task A_run_whose_first_values_are_non_finite_exports_no_sample_for_them()
    {
        Metrics.RecordStep("run-m", Steps.Report(step: 0, beta: double.NaN) with
        {
            Loss = double.PositiveInfinity,
            SecondsUpdate = double.NaN,
        });

        var scrape = await Scrape.GetAsync(_server.Endpoint);

        var run = ("run", "run-m");
        Assert.Empty(scrape.Where("grid_policy_loss", run));
        Assert.Empty(scrape.Where("grid_kl_beta", run));
        Assert.Empty(scrape.Where("grid_step_duration_seconds", run, ("phase", "update")));
        Assert.Equal(1.5, scrape.Value("grid_step_duration_seconds", run, ("phase", "rollout")));
        Assert.Equal(1, scrape.Value("grid_nonfinite_metrics_total", run, ("metric", "grid_policy_loss")));
        Assert.Equal(1, scrape.Value("grid_nonfinite_metrics_total", run, ("metric", "grid_kl_beta")));
        Assert.Equal(1, scrape.Value("grid_nonfinite_metrics_total", run, ("metric", "grid_step_duration")));
    }

    [Fact]
    public async Task Grid_events_are_exported_with_their_labels()
    {
        Metrics.RolloutFinished("run-c", RolloutOutcome.Ok, tokens: 10);
        Metrics.RolloutFinished("run-c", RolloutOutcome.Ok, tokens: 12);
        Metrics.RolloutFinished("run-c", RolloutOutcome.Retried, tokens: 9);
        Metrics.RolloutFinished("run-c", RolloutOutcome.Failed);
        Metrics.RolloutRetried("run-c");
        Metrics.RolloutRetried("run-c");
        Metrics.GroupStarted("run-c");
        Metrics.GroupStarted("run-c");
        Metrics.GroupFinished("run-c");
        Metrics.EngineBatch(3);
        Metrics.EngineBatch(40);
        Metrics.EngineQueueDepth(5);
        Metrics.WeightsReloaded("run-c", policyVersion: 4);
        Metrics.LearnerPlaced("run-c", "10.0.0.7:11111", LearnerDevice.Gpu);
        Metrics.SiloCapacity("10.0.0.7:11111", gpuDevices: 2);

        var scrape = await Scrape.GetAsync(_server.Endpoint);

        var run = ("run", "run-c");
        Assert.Equal(2, scrape.Value("grid_rollouts_total", run, ("outcome", "ok")));
        Assert.Equal(1, scrape.Value("grid_rollouts_total", run, ("outcome", "retried")));
        Assert.Equal(1, scrape.Value("grid_rollouts_total", run, ("outcome", "failed")));
        Assert.Equal(31, scrape.Value("grid_rollout_tokens_total", run));
        Assert.Equal(2, scrape.Value("grid_rollout_retries_total", run));
        Assert.Equal(1, scrape.Value("grid_groups_in_flight", run));
        Assert.Equal(2, scrape.Value("grid_engine_batch_size_count"));
        Assert.Equal(43, scrape.Value("grid_engine_batch_size_sum"));
        Assert.Equal(1, scrape.Value("grid_engine_batch_size_bucket", ("le", "4")));
        Assert.Equal(2, scrape.Value("grid_engine_batch_size_bucket", ("le", "64")));
        Assert.Equal(5, scrape.Value("grid_engine_queue_depth"));
        Assert.Equal(1, scrape.Value("grid_weight_reloads_total", run));
        Assert.Equal(4, scrape.Value("grid_engine_policy_version", run));
        Assert.Equal(1, scrape.Value("grid_learner_placement", run, ("silo", "10.0.0.7:11111"), ("device", "gpu")));
        Assert.Equal(2, scrape.Value("grid_silo_gpu_devices", ("silo", "10.0.0.7:11111")));
    }

    [Fact]
    public async Task Learner_placement_shows_only_where_the_learner_is_now()
    {
        Metrics.LearnerPlaced("run-d", "silo-a", LearnerDevice.Gpu);
        Metrics.LearnerPlaced("run-d", "silo-b", LearnerDevice.Cpu);
        var moved = await Scrape.GetAsync(_server.Endpoint);
        Metrics.LearnerRemoved("run-d");
        var removed = await Scrape.GetAsync(_server.Endpoint);

        var placement = Assert.Single(moved.Where("grid_learner_placement", ("run", "run-d")));
        Assert.Equal(("silo-b", "cpu", 1.0), (placement.Labels["silo"], placement.Labels["device"], placement.Value));
        Assert.Empty(removed.Where("grid_learner_placement", ("run", "run-d")));
    }

    [Fact]
    public async Task The_exported_grid_names_are_exactly_the_documented_ones()
    {
        Everything.Record(Metrics, "run-e");

        var scrape = await Scrape.GetAsync(_server.Endpoint);

        string[] documented =
        [
            "grid_accuracy", "grid_clip_fraction", "grid_completion_length_max", "grid_completion_length_mean",
            "grid_engine_batch_size_bucket", "grid_engine_batch_size_count", "grid_engine_batch_size_sum",
            "grid_engine_policy_version", "grid_engine_queue_depth", "grid_entropy", "grid_format_rate",
            "grid_grad_norm", "grid_group_staleness_bucket", "grid_group_staleness_count", "grid_group_staleness_sum",
            "grid_groups_dropped_stale_total", "grid_groups_in_flight",
            "grid_importance_weight_capped_fraction", "grid_importance_weight_max", "grid_importance_weight_mean",
            "grid_kl_beta", "grid_kl_mean",
            "grid_learner_idle_fraction", "grid_learner_last_step_timestamp_seconds", "grid_learner_placement",
            "grid_learner_resident_memory_bytes",
            "grid_policy_loss", "grid_policy_version", "grid_reward_mean", "grid_reward_std",
            "grid_rollout_engine_busy_seconds_total",
            "grid_rollout_retries_total", "grid_rollout_tokens_total", "grid_rollouts_total", "grid_run_steps",
            "grid_silo_gpu_devices",
            "grid_step", "grid_step_duration_seconds", "grid_step_groups", "grid_steps_total",
            "grid_tokens_generated_total", "grid_updates_skipped_total", "grid_validation_accuracy",
            "grid_weight_reloads_total", "grid_zero_std_group_fraction",
        ];
        Assert.Equal(documented.Order(), scrape.Names.Where(n => n.StartsWith("grid_", StringComparison.Ordinal)).Order());
        string doc = File.ReadAllText(RepoPaths.MetricsDoc);
        Assert.All(documented.Select(n => n.Replace("_bucket", "").Replace("_count", "").Replace("_sum", "")),
            name => Assert.Contains($"`{name}`", doc));
    }

    [Fact]
    public async Task Every_grid_sample_carries_only_bounded_labels()
    {
        Everything.Record(Metrics, "run-f");

        var scrape = await Scrape.GetAsync(_server.Endpoint);

        string[] allowed = ["otel_scope_name", "run", "component", "side", "phase", "outcome", "le", "silo", "device", "task"];
        Assert.All(scrape.Samples.Where(s => s.Name.StartsWith("grid_", StringComparison.Ordinal)),
            sample => Assert.Empty(sample.Labels.Keys.Except(allowed)));
    }

    [Fact]
    public async Task The_training_observer_exports_each_step_and_passes_every_callback_on()
    {
        var inner = new RecordingObserver();
        ITrainingObserver observer = new MetricsTrainingObserver(Metrics, "run-g", inner);

        observer.OnPhase("grpo", 2);
        observer.OnSftStep(1, 0.5);
        observer.OnStep(Steps.Report(step: 0, beta: 0.02));
        observer.OnStep(Steps.Report(step: 1, beta: 0.03));
        var scrape = await Scrape.GetAsync(_server.Endpoint);

        Assert.Equal(["phase grpo", "sft 1", "step 0", "step 1"], inner.Calls);
        Assert.Equal(1, scrape.Value("grid_step", ("run", "run-g")));
        Assert.Equal(0.03, scrape.Value("grid_kl_beta", ("run", "run-g")));
        Assert.Equal(2, scrape.Value("grid_run_steps", ("run", "run-g")));
    }

    [Fact]
    public async Task A_runs_rollout_series_exist_at_zero_from_its_first_group_so_rates_read_zero_not_no_data()
    {
        Metrics.GroupStarted("run-h");

        var scrape = await Scrape.GetAsync(_server.Endpoint);

        var run = ("run", "run-h");
        foreach (string outcome in new[] { "ok", "retried", "failed" })
        {
            Assert.Equal(0, scrape.Value("grid_rollouts_total", run, ("outcome", outcome)));
        }

        Assert.Equal(0, scrape.Value("grid_rollout_retries_total", run));
        Assert.Equal(0, scrape.Value("grid_rollout_tokens_total", run));
        Assert.Equal(1, scrape.Value("grid_groups_in_flight", run));
    }

    [Fact]
    public void A_port_out_of_range_is_refused_with_the_value_and_the_range()
    {
        var options = new GridTelemetryOptions { Port = 70000 };

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => options.Validate());

        Assert.Contains("70000", error.Message);
        Assert.Contains("65535", error.Message);
    }

    private sealed class RecordingObserver : ITrainingObserver
    {
        public List<string> Calls { get; } = [];

        public void OnPhase(string phase, int totalSteps) => Calls.Add($"phase {phase}");

        public void OnSftStep(int step, double loss) => Calls.Add($"sft {step}");

        public void OnEvaluation(EvalReport report) => Calls.Add("eval");

        public void OnStep(StepMetrics metrics) => Calls.Add($"step {metrics.Step}");
    }
}
