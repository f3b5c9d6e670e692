using System.Collections.Concurrent;
using System.Diagnostics;
using Grid.Hosting.Weights;
using Grid.Policy.Checkpoints;
using Grid.Policy.Generation;
using Grid.Policy.Model;
using Microsoft.Extensions.Logging;

namespace Grid.Grains.Rollouts;

/// <summary>
/// The silo's rollout engine: ONE dedicated thread owns the silo's copy of each run's policy and serves the
/// generation requests of every prompt group on the silo. Requests that arrive together (within a quiet period, up
/// to a maximum batch size) are generated in one batched, KV-cached call; requests arriving meanwhile form the next
/// batch. Before generating it loads the requested policy version from the weight store when it holds another one
/// (the store checks the sha256). Grains await a task; this thread completes it.
/// </summary>
public sealed class RolloutEngine : IDisposable
{
    private readonly BlockingCollection<Pending> _queue = new();
    private readonly Dictionary<string, (VisionLanguagePolicy Policy, long Version)> _policies = new();
    private readonly IWeightStore _weights;
    private readonly RolloutEngineOptions _options;
    private readonly ILogger<RolloutEngine> _logger;
    private readonly Thread _thread;
    private Pending? _carried;
    private long _batches, _requests, _completions, _weightLoads;

    public RolloutEngine(IWeightStore weights, RolloutEngineOptions options, ILogger<RolloutEngine> logger)
    {
        _weights = weights;
        _options = options.Validate();
        _logger = logger;
        _thread = new Thread(Loop, maxStackSize: 16 * 1024 * 1024) { Name = "grid-rollout", IsBackground = true };
        _thread.Start();
    }

    public RolloutEngineStatistics Statistics => new(
        Interlocked.Read(ref _batches), Interlocked.Read(ref _requests),
        Interlocked.Read(ref _completions), Interlocked.Read(ref _weightLoads));

    /// <summary>Queues a group's completions; the task completes (off the engine thread) when they are generated.</summary>
    public Task<IReadOnlyList<GenerationResult>> GenerateAsync(RolloutRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var pending = new Pending(request,
            new TaskCompletionSource<IReadOnlyList<GenerationResult>>(TaskCreationOptions.RunContinuationsAsynchronously));
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
        else if (!_queue.TryAdd(pending))
        {
            pending.Done.SetException(new ObjectDisposedException(nameof(RolloutEngine), "The silo is shutting down."));
        }

        return pending.Done.Task;
    }

    private void Loop()
    {
        try
        {
            while (true)
            {
                var batch = NextBatch();
                if (batch is null)
                {
                    return;
                }

                foreach (var same in batch.GroupBy(p => (p.Request.RunId, p.Request.Weights.Version, p.Request.Settings)))
                {
                    Serve(same.ToList());
                }
            }
        }
        catch (InvalidOperationException) when (_queue.IsAddingCompleted)
        {
        }
    }

    /// <summary>The first waiting request, plus whatever joins it before the queue goes quiet.</summary>
    private List<Pending>? NextBatch()
    {
        var first = _carried ?? (_queue.TryTake(out var taken, Timeout.Infinite) ? taken : null);
        _carried = null;
        if (first is null)
        {
            return null;
        }

        var batch = new List<Pending> { first };
        int rows = first.Request.Requests.Count;
        var clock = Stopwatch.StartNew();
        while (rows < _options.MaxBatchSize)
        {
            var left = _options.MaxLinger - clock.Elapsed;
            var wait = left < _options.QuietPeriod ? left : _options.QuietPeriod;
            if (wait <= TimeSpan.Zero || !_queue.TryTake(out var next, wait))
            {
                break;
            }

            if (rows + next.Request.Requests.Count > _options.MaxBatchSize)
            {
                _carried = next;
                break;
            }

            batch.Add(next);
            rows += next.Request.Requests.Count;
        }

        return batch;
    }

    private void Serve(List<Pending> batch)
    {
        try
        {
            var first = batch[0].Request;
            var policy = PolicyAt(first.RunId, first.Weights, first.Config);
            var requests = batch.SelectMany(p => p.Request.Requests).ToArray();
            var results = Generator.Generate(policy, requests, first.Settings);
            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _requests, batch.Count);
            Interlocked.Add(ref _completions, requests.Length);
            int offset = 0;
            foreach (var pending in batch)
            {
                int count = pending.Request.Requests.Count;
                pending.Done.SetResult(results.Skip(offset).Take(count).ToArray());
                offset += count;
            }
        }
        catch (Exception error)
        {
            _logger.LogWarning(error, "Rollout batch of {Groups} groups failed", batch.Count);
            foreach (var pending in batch)
            {
                pending.Done.TrySetException(error);
            }
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

        foreach (var pending in _queue.Append(_carried).OfType<Pending>())
        {
            pending.Done.TrySetException(new ObjectDisposedException(nameof(RolloutEngine)));
        }

        _queue.Dispose();
    }

    private sealed record Pending(RolloutRequest Request, TaskCompletionSource<IReadOnlyList<GenerationResult>> Done);
}
