using System.Collections.Concurrent;
using System.Diagnostics;
using Grid.Core;
using Grid.Grains.Torch;
using Grid.Hosting.Weights;
using Grid.Policy.Checkpoints;
using Grid.Policy.Generation;
using Grid.Policy.Model;
using Grid.Telemetry;
using Grid.Training;
using Microsoft.Extensions.Logging;

namespace Grid.Grains.Rollouts;

/// <summary>
/// The silo's rollout engine: ONE dedicated thread owns the silo's copy of each run's policy and serves the
/// generation requests of every prompt group on the silo with continuous batching: a batch opens with the requests
/// that arrive together (within a quiet period), and before every decode step the requests that arrived meanwhile
/// for the same run, policy version and settings join it (up to a maximum number of rows) while the others decode
/// on; each request completes as soon as its own rows finish. Before opening a batch it loads the requested policy
/// version from the weight store when it holds another one (the store checks the sha256). Grains await a task; this
/// thread completes it.
/// <para>
/// The same thread runs the silo's other CPU torch work (<see cref="RunAsync{T}"/>: a CPU learner's updates), between
/// decode steps, in arrival order. Two threads doing torch work in one process each get their own OpenMP team, and
/// libgomp, once it manages more threads than there are cores, stops spinning between parallel regions: every torch
/// op then pays a futex wake-up (measured with the grid-tax benchmark; figures in docs/design.md, "Measured").
/// </para>
/// </summary>
public sealed class RolloutEngine : ITorchThread, IDisposable
{
    private readonly BlockingCollection<Item> _queue = new();
    private readonly Dictionary<string, (VisionLanguagePolicy Policy, long Version)> _policies = new();
    private readonly IWeightStore _weights;
    private readonly RolloutEngineOptions _options;
    private readonly ILogger<RolloutEngine> _logger;
    private readonly Thread _thread;
    private readonly List<Pending> _waiting = new(); // engine thread only: arrived, not yet in a batch
    private readonly GridMetrics? _metrics;
    private long _batches, _steps, _requests, _completions, _weightLoads;

    public RolloutEngine(IWeightStore weights, RolloutEngineOptions options, ILogger<RolloutEngine> logger,
        GridMetrics? metrics = null)
    {
        _weights = weights;
        _metrics = metrics;
        _options = options.Validate();
        _logger = logger;
        _thread = new Thread(Loop, maxStackSize: 16 * 1024 * 1024) { Name = "grid-rollout", IsBackground = true };
        _thread.Start();
    }

    public RolloutEngineStatistics Statistics => new(
        Interlocked.Read(ref _batches), Interlocked.Read(ref _steps), Interlocked.Read(ref _requests),
        Interlocked.Read(ref _completions), Interlocked.Read(ref _weightLoads));

    /// <summary>Queues a group's completions; the task completes (off the engine thread) when they are generated.</summary>
    public Task<IReadOnlyList<GenerationResult>> GenerateAsync(RolloutRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var pending = new Pending(request);
        if (request.Requests.Count == 0)
        {
            pending.Done.SetResult([]);
        }
        else if (_options.Policy == RolloutPolicy.FixedAnswer)
        {
            // The benchmark policy costs nothing: no thread hop, no batching, no weights.
            Interlocked.Increment(ref _requests);
            Interlocked.Add(ref _completions, request.Requests.Count);
            pending.Done.SetResult(FixedAnswerPolicy.Completions(request.Requests.Count));
        }
        else if (!TryEnqueue(pending))
        {
            pending.Done.SetException(new ObjectDisposedException(nameof(RolloutEngine), "The silo is shutting down."));
        }

        return pending.Done.Task;
    }

    /// <summary>
    /// Runs torch work on the engine's thread, between decode steps (never inside one), in arrival order; generation
    /// waits meanwhile. The work may change torch's thread count: the engine sets its own back afterwards.
    /// </summary>
    public Task<T> RunAsync<T>(Func<T> work)
    {
        var job = TorchJob.For(work, out var task);
        if (!TryEnqueue(new Work(job)))
        {
            job.Fail(new ObjectDisposedException(nameof(RolloutEngine), "The silo is shutting down."));
        }

        return task;
    }

    private bool TryEnqueue(Item item)
    {
        try
        {
            return _queue.TryAdd(item);
        }
        catch (Exception error) when (error is InvalidOperationException or ObjectDisposedException)
        {
            return false; // stopped: adding completed, or disposed
        }
    }

    /// <summary>
    /// Runs work items as they come; returns the first generation request, or null when <paramref name="wait"/> passes
    /// (or the queue completes) without one.
    /// </summary>
    private Pending? TakeRequest(TimeSpan wait)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var left = wait == Timeout.InfiniteTimeSpan ? wait : wait - clock.Elapsed;
            if (left != Timeout.InfiniteTimeSpan && left < TimeSpan.Zero)
            {
                left = TimeSpan.Zero;
            }

            if (!_queue.TryTake(out var item, left))
            {
                return null;
            }

            if (item is Pending pending)
            {
                return pending;
            }

            RunWork((Work)item);
        }
    }

    private void RunWork(Work work)
    {
        work.Job.Run();
        if (_options.Policy == RolloutPolicy.Model)
        {
            PolicyRuntime.UseThreads(0); // the work may have set its own
        }
    }

    private void Loop()
    {
        if (_options.Policy == RolloutPolicy.Model)
        {
            PolicyRuntime.UseThreads(0); // one per core, set on this thread as the in-process loop sets it on its own
        }

        try
        {
            while (true)
            {
                var first = NextBatch();
                if (first is null)
                {
                    return;
                }

                Decode(first);
            }
        }
        catch (InvalidOperationException) when (_queue.IsAddingCompleted)
        {
        }
        finally
        {
            foreach (var pending in _waiting)
            {
                pending.Done.TrySetException(new ObjectDisposedException(nameof(RolloutEngine), "The silo is shutting down."));
            }
        }
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
        while (_queue.TryTake(out var arrived))
        {
            if (arrived is Pending pending)
            {
                _waiting.Add(pending);
            }
            else
            {
                RunWork((Work)arrived); // between decode steps: no inference mode or dispose scope of the batch is open
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
    private List<Pending>? NextBatch()
    {
        Pending? first = null;
        if (_waiting.Count > 0)
        {
            first = _waiting[0];
            _waiting.RemoveAt(0);
        }
        else if ((first = TakeRequest(Timeout.InfiniteTimeSpan)) is null)
        {
            return null;
        }

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
    private VisionLanguagePolicy PolicyAt(string runId, WeightReference weights, PolicyConfig config)
    {
        if (_policies.TryGetValue(runId, out var held) && held.Version == weights.Version && held.Policy.Config == config)
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

        var policy = held.Policy is { } existing && existing.Config == config ? existing : new VisionLanguagePolicy(config);
        if (!ReferenceEquals(policy, held.Policy))
        {
            held.Policy?.Dispose();
        }

        PolicyCheckpoint.LoadWeights(policy, bytes);
        policy.eval();
        _policies[runId] = (policy, weights.Version);
        Interlocked.Increment(ref _weightLoads);
        _metrics?.WeightsReloaded(runId, weights.Version);
        _logger.LogDebug("Rollout engine loaded run {RunId} version {Version}", runId, weights.Version);
        return policy;
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        _thread.Join();
        foreach (var (policy, _) in _policies.Values)
        {
            policy.Dispose();
        }

        foreach (var item in _queue)
        {
            item.Fail(new ObjectDisposedException(nameof(RolloutEngine), "The silo is shutting down."));
        }

        _queue.Dispose();
    }

    /// <summary>What the engine's thread takes from its queue: a generation request, or other torch work.</summary>
    private abstract class Item
    {
        public abstract void Fail(Exception error);
    }

    private sealed class Work(TorchJob job) : Item
    {
        public TorchJob Job { get; } = job;

        public override void Fail(Exception error) => Job.Fail(error);
    }

    private sealed class Pending(RolloutRequest request) : Item
    {
        public RolloutRequest Request { get; } = request;

        public TaskCompletionSource<IReadOnlyList<GenerationResult>> Done { get; } =
            new(TaskCreationOptions.RunContinuationsAsynchronously);

        public GenerationResult[] Results { get; } = new GenerationResult[request.Requests.Count];

        /// <summary>Rows not finished yet (engine thread only).</summary>
        public int Remaining { get; set; } = request.Requests.Count;

        public override void Fail(Exception error) => Done.TrySetException(error);
    }
}
