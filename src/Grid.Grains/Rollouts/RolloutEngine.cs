using System.Diagnostics;
using Grid.Core;
using Grid.Grains.Torch;
using Grid.Hosting.Weights;
using Grid.Policy.Checkpoints;
using Grid.Policy.Generation;
using Grid.Policy.Model;
using Grid.Policy.Qwen;
using Grid.Telemetry;
using Grid.Training;
using Microsoft.Extensions.Logging;

namespace Grid.Grains.Rollouts;

/// <summary>
/// The silo's rollout engine: on ONE thread (the silo's <see cref="TorchWorker"/>) it owns the silo's copy of each
/// run's policy and serves the generation requests of every prompt group on the silo with continuous batching: a
/// batch opens with the requests
/// that arrive together (within a quiet period), and before every decode step the requests that arrived meanwhile
/// for the same run, policy version and settings join it (up to a maximum number of rows) while the others decode
/// on; each request completes as soon as its own rows finish. Before opening a batch it loads the requested policy
/// version from the weight store when it holds another one (the store checks the sha256). Grains await a task; this
/// thread completes it.
/// <para>
/// The thread is the silo's <see cref="TorchWorker"/>, which runs the silo's other CPU torch work too (a CPU learner's
/// updates): queued work runs between decode steps, in arrival order. Two threads doing torch work in one process
/// each get their own OpenMP team, and libgomp, once it manages more threads than there are cores, stops spinning
/// between parallel regions: every torch op then pays a futex wake-up (measured with the grid-tax benchmark; figures
/// in docs/design.md, "Measured").
/// </para>
/// </summary>
public sealed class RolloutEngine : IDisposable
{
    private readonly TorchWorker _torch;
    private readonly TorchWorker? _ownThread; // when no silo thread was given
    private readonly Dictionary<string, (PolicyModel Policy, PolicyConfig Config, long Version)> _policies = new();
    private readonly IWeightStore _weights;
    private readonly RolloutEngineOptions _options;
    private readonly ISiloPolicy _policy;
    private readonly ILogger<RolloutEngine> _logger;
    private readonly List<Pending> _waiting = new(); // engine thread only: arrived, not yet in a batch
    private readonly GridMetrics? _metrics;
    private long _batches, _steps, _requests, _completions, _weightLoads;
    private long _busyTicks; // Stopwatch ticks the engine had generation work in flight, counted up to _busyMark
    private long _busyMark; // engine thread only: the Stopwatch timestamp up to which a serving engine counted busy time
    private int _stopped;
    private bool _serving, _retireAfterServing, _retired; // engine thread only

    /// <summary>An engine on a thread of its own (<c>grid-rollout</c>), the policy chosen by <paramref name="options"/>.</summary>
    public RolloutEngine(IWeightStore weights, RolloutEngineOptions options, ILogger<RolloutEngine> logger,
        GridMetrics? metrics = null)
        : this(weights, options, logger, torch: null, SiloPolicies.For(options.Policy), metrics)
    {
    }

    /// <summary>
    /// An engine living on <paramref name="torch"/> (the silo's torch thread; null: a thread of its own) that samples
    /// what <paramref name="policy"/> says: the model, or (benchmarks) answers the policy gives without generating.
    /// </summary>
    public RolloutEngine(IWeightStore weights, RolloutEngineOptions options, ILogger<RolloutEngine> logger,
        TorchWorker? torch, ISiloPolicy policy, GridMetrics? metrics = null)
    {
        _weights = weights;
        _metrics = metrics;
        _options = options.Validate();
        _policy = policy;
        _logger = logger;
        _torch = torch ?? (_ownThread = new TorchWorker("grid-rollout", SettleThreads));
        _metrics?.EngineBusy(0); // the silo reads idle before its first batch, not "no data"
    }

    /// <summary>Torch's thread count for generation: one per core, as the in-process loop sets it on its own thread.</summary>
    public static void SettleThreads() => PolicyRuntime.UseThreads(0);

    public RolloutEngineStatistics Statistics => new(
        Interlocked.Read(ref _batches), Interlocked.Read(ref _steps), Interlocked.Read(ref _requests),
        Interlocked.Read(ref _completions), Interlocked.Read(ref _weightLoads),
        Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _busyTicks)));

    /// <summary>Queues a group's completions; the task completes (off the engine thread) when they are generated.</summary>
    public Task<IReadOnlyList<GenerationResult>> GenerateAsync(RolloutRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Requests.Count == 0)
        {
            return Task.FromResult<IReadOnlyList<GenerationResult>>([]);
        }

        if (_policy.AnswerAsync(request) is { } answered)
        {
            // A benchmark policy: no thread hop, no batching, no weights; at once, or after its simulated generation time.
            Interlocked.Increment(ref _requests);
            Interlocked.Add(ref _completions, request.Requests.Count);
            return answered;
        }

        var pending = new Pending(this, request);
        if (Volatile.Read(ref _stopped) != 0 || !_torch.TryPost(pending))
        {
            pending.Done.SetException(ShuttingDown());
        }

        return pending.Done.Task;
    }

    private static ObjectDisposedException ShuttingDown() => new(nameof(RolloutEngine), "The silo is shutting down.");

    /// <summary>
    /// Runs other work items as they come; returns the first generation request of this engine, or null when
    /// <paramref name="wait"/> passes (or the thread stops) without one.
    /// </summary>
    private Pending? TakeRequest(TimeSpan wait)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var left = wait - clock.Elapsed;
            if (left < TimeSpan.Zero)
            {
                left = TimeSpan.Zero;
            }

            if (!_torch.TryTake(out var item, left))
            {
                return null;
            }

            if (item is Pending pending && pending.Engine == this)
            {
                return pending;
            }

            _torch.RunTaken(item); // the work may set its own thread count: the worker sets the engine's back
        }
    }

    /// <summary>
    /// On the torch thread, when the worker takes a generation request while no batch is open: serves batches until
    /// no request waits, then hands the thread back to the worker (its other work, or waiting for more).
    /// </summary>
    private void Serve(Pending first)
    {
        if (_retired)
        {
            first.Done.TrySetException(ShuttingDown());
            return;
        }

        _serving = true;
        _busyMark = Stopwatch.GetTimestamp();
        try
        {
            for (var next = first; next is not null; next = NextWaiting())
            {
                Decode(Gather(next));
            }
        }
        catch (Exception error)
        {
            _logger.LogError(error, "The rollout engine failed outside a batch");
            Fail(_waiting, error);
            _waiting.Clear();
        }
        finally
        {
            CountBusy();
            _serving = false;
            if (_retireAfterServing)
            {
                Retire();
            }
        }
    }

    /// <summary>
    /// On the engine thread while it serves: adds the time since the last count to the busy time (the statistics and
    /// <c>grid_rollout_engine_busy_seconds_total</c>). Called once per decode step and when serving ends, so a long
    /// batch shows as busy while it runs; one timestamp and one counter add, nothing allocated.
    /// </summary>
    private void CountBusy()
    {
        long now = Stopwatch.GetTimestamp();
        long ticks = now - _busyMark;
        _busyMark = now;
        Interlocked.Add(ref _busyTicks, ticks);
        _metrics?.EngineBusy(ticks / (double)Stopwatch.Frequency);
    }

    private Pending? NextWaiting()
    {
        if (_waiting.Count == 0)
        {
            return null;
        }

        var next = _waiting[0];
        _waiting.RemoveAt(0);
        return next;
    }

    /// <summary>
    /// Decodes one continuous batch: the requests that opened it, then, before every decode step, whatever arrived
    /// for the same run, policy version and settings and fits (rows join mid-decode). Requests for another version
    /// or settings wait until the batch drains. A request's task completes as soon as its last row finishes.
    /// </summary>
    private void Decode(List<Pending> opening)
    {
        var key = opening[0].Request;
        ContinuousBatch batch;
        try
        {
            batch = new ContinuousBatch(PolicyAt(key.RunId, key.Weights, key.Config), key.Settings, _options.MaxBatchSize);
        }
        catch (Exception error)
        {
            Fail(opening, error);
            return;
        }

        var members = new List<Pending>();
        using (batch)
        {
            try
            {
                Interlocked.Increment(ref _batches);
                _waiting.AddRange(Join(batch, key, opening, members));

                while (!batch.IsEmpty)
                {
                    AdmitWaiting(batch, key, members);
                    _metrics?.EngineBatch(batch.LiveRows);
                    foreach (var done in batch.Step())
                    {
                        var pending = (Pending)done.Owner;
                        pending.Results[done.Index] = done.Result;
                        if (--pending.Remaining == 0)
                        {
                            members.Remove(pending);
                            Interlocked.Add(ref _completions, pending.Results.Length);
                            pending.Done.TrySetResult(pending.Results);
                        }
                    }

                    Interlocked.Increment(ref _steps);
                    CountBusy();
                }
            }
            catch (Exception error)
            {
                _logger.LogWarning(error, "Rollout batch of {Groups} groups failed", members.Count);
                Fail(members, error);
            }
        }
    }

    /// <summary>Moves what arrived into the waiting line, then lets in, in order, the waiting requests that fit.</summary>
    private void AdmitWaiting(ContinuousBatch batch, RolloutRequest key, List<Pending> members)
    {
        while (_torch.TryTake(out var arrived, TimeSpan.Zero))
        {
            if (arrived is Pending pending && pending.Engine == this)
            {
                _waiting.Add(pending);
            }
            else
            {
                _torch.RunTaken(arrived); // between decode steps: no inference mode or dispose scope of the batch is open
            }
        }

        if (_options.JoinMidDecode && _waiting.Count > 0)
        {
            var candidates = _waiting.ToList();
            _waiting.Clear();
            _waiting.AddRange(Join(batch, key, candidates, members));
        }

        _metrics?.EngineQueueDepth(_waiting.Count);
    }

    /// <summary>
    /// Lets into the batch, with one prefill, those of <paramref name="candidates"/> (in order) that share its run,
    /// version and settings and fit; returns the others, in order, to wait.
    /// </summary>
    private List<Pending> Join(ContinuousBatch batch, RolloutRequest key, IEnumerable<Pending> candidates, List<Pending> members)
    {
        var joining = new List<Pending>();
        var rows = new List<GenerationRequest>();
        var left = new List<Pending>();
        foreach (var pending in candidates)
        {
            if (SameBatch(pending.Request, key) && batch.CanAdmit([.. rows, .. pending.Request.Requests]))
            {
                joining.Add(pending);
                rows.AddRange(pending.Request.Requests);
            }
            else
            {
                left.Add(pending);
            }
        }

        try
        {
            batch.Admit(joining.Select(p => new AdmittedGroup(p.Request.Requests, p)).ToArray());
            members.AddRange(joining);
            Interlocked.Add(ref _requests, joining.Count);
        }
        catch (ArgumentException) when (joining.Count > 1)
        {
            // Some request is bad (say, too long a prompt): admit them one by one, so only the bad one fails.
            foreach (var pending in joining)
            {
                left.AddRange(Join(batch, key, [pending], members));
            }
        }
        catch (ArgumentException error)
        {
            joining[0].Done.TrySetException(error); // this request is bad; its batch mates are not
        }

        return left;
    }

    private static bool SameBatch(RolloutRequest request, RolloutRequest batchKey) =>
        request.RunId == batchKey.RunId && request.Weights.Version == batchKey.Weights.Version
        && request.Settings == batchKey.Settings && request.Config == batchKey.Config;

    /// <summary>
    /// The request that opens the next batch (the longest-waiting one), plus what arrives before the queue goes quiet:
    /// requests of one step arrive together, and one prefill of many rows is cheaper than many of a few.
    /// </summary>
    private List<Pending> Gather(Pending first)
    {
        var batch = new List<Pending> { first };
        for (int i = 0; i < _waiting.Count; i++)
        {
            if (SameBatch(_waiting[i].Request, first.Request))
            {
                batch.Add(_waiting[i]);
                _waiting.RemoveAt(i--);
            }
        }

        var clock = Stopwatch.StartNew();
        // Load a new policy version while the step's other requests arrive, rather than after they have (a load took
        // 7-40 ms in the grid-tax benchmark, the arrivals 2-18 ms). A failure is reported by Decode, to the whole batch.
        try
        {
            PolicyAt(first.Request.RunId, first.Request.Weights, first.Request.Config);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            _logger.LogDebug(error, "Loading the policy for run {RunId} before its batch failed", first.Request.RunId);
        }

        while (true)
        {
            var left = _options.MaxLinger - clock.Elapsed;
            var wait = left < _options.QuietPeriod ? left : _options.QuietPeriod;
            if (wait <= TimeSpan.Zero || TakeRequest(wait) is not { } next)
            {
                break;
            }

            batch.Add(next); // Decode lets in what fits and returns the rest to the waiting line
        }

        return batch;
    }

    private static void Fail(IEnumerable<Pending> pendings, Exception error)
    {
        foreach (var pending in pendings)
        {
            pending.Done.TrySetException(error);
        }
    }

    /// <summary>The run's policy at exactly the requested version: sampling log-probs must come from that policy.</summary>
    private PolicyModel PolicyAt(string runId, WeightReference weights, PolicyConfig config)
    {
        if (_policies.TryGetValue(runId, out var held) && held.Version == weights.Version && held.Config == config)
        {
            return held.Policy;
        }

        // Blocking is right here: this thread owns no torch scope while it waits, and nothing else runs on it.
        byte[] bytes = _weights.ReadAsync(weights).GetAwaiter().GetResult();
        if (FixedAnswerPolicy.IsPlaceholder(bytes))
        {
            throw new InvalidOperationException(
                $"Run {runId} version {weights.Version} has fixed-answer placeholder weights (a benchmarking run), but this "
                + "silo samples from a model. Set RolloutEngineOptions.Policy = FixedAnswer on every silo of a "
                + "benchmarking cluster, and never on a training cluster.");
        }

        // A Hugging Face policy is built from its folder (architecture, tokenizer, processor); the weights come next.
        var policy = held.Policy is { } existing && held.Config == config ? existing
            : config.HubCheckpoint is { } folder ? HuggingFaceCheckpoint.LoadPolicy(folder)
            : new VisionLanguagePolicy(config);
        if (!ReferenceEquals(policy, held.Policy))
        {
            held.Policy?.Dispose();
        }

        PolicyCheckpoint.LoadWeights(policy, bytes);
        policy.eval();
        _policies[runId] = (policy, config, weights.Version);
        Interlocked.Increment(ref _weightLoads);
        _metrics?.WeightsReloaded(runId, weights.Version);
        _logger.LogDebug("Rollout engine loaded run {RunId} version {Version}", runId, weights.Version);
        return policy;
    }

    /// <summary>On the torch thread: frees the policy copies; requests that still arrive fail.</summary>
    private void Retire()
    {
        _retired = true;
        foreach (var (policy, _, _) in _policies.Values)
        {
            policy.Dispose();
        }

        _policies.Clear();
    }

    /// <summary>
    /// Serves the requests already queued, then frees the policy copies on the torch thread (after the batch, if one
    /// is open); new requests fail. Stops the engine's own thread, never the silo's.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        var retiring = _torch.RunAsync(() =>
        {
            if (_serving)
            {
                _retireAfterServing = true; // taken between decode steps: the batch's policy is still in use
            }
            else
            {
                Retire();
            }

            return true;
        });
        try
        {
            retiring.GetAwaiter().GetResult();
        }
        catch (ObjectDisposedException)
        {
            Retire(); // the thread stopped first, after its queue: nothing runs on it any more
        }

        _ownThread?.Dispose();
    }

    private sealed class Pending(RolloutEngine engine, RolloutRequest request) : TorchItem
    {
        public RolloutEngine Engine { get; } = engine;

        public RolloutRequest Request { get; } = request;

        public TaskCompletionSource<IReadOnlyList<GenerationResult>> Done { get; } =
            new(TaskCreationOptions.RunContinuationsAsynchronously);

        public GenerationResult[] Results { get; } = new GenerationResult[request.Requests.Count];

        /// <summary>Rows not finished yet (engine thread only).</summary>
        public int Remaining { get; set; } = request.Requests.Count;

        public override void Run() => Engine.Serve(this);

        public override void Fail(Exception error) => Done.TrySetException(error);
    }
}
