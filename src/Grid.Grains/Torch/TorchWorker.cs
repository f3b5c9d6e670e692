using System.Collections.Concurrent;

namespace Grid.Grains.Torch;

/// <summary>
/// A dedicated <see cref="ITorchThread"/>, the one way Grid pins torch work to a thread. A silo has one for its CPU
/// torch work (registered by <c>AddGridGrains</c>): the rollout engine lives on it and a CPU learner queues its
/// updates on it, so the process keeps one OpenMP team (<see cref="Rollouts.RolloutEngine"/> says why). A learner on
/// a GPU makes one of its own, and the CLI's commands run torch outside a silo on a short-lived one.
/// </summary>
public sealed class TorchWorker : ITorchThread, IDisposable
{
    private readonly BlockingCollection<TorchItem> _work = new();
    private readonly Thread _thread;
    private readonly Action? _settle;

    /// <param name="name">The thread's name.</param>
    /// <param name="settle">Run on the thread before its first item and after every item: puts back the thread
    /// settings (torch's thread count) that the thread's residents expect, whatever a job changed.</param>
    public TorchWorker(string name, Action? settle = null)
    {
        _settle = settle;
        _thread = new Thread(Loop, maxStackSize: 16 * 1024 * 1024) { Name = name, IsBackground = true };
        _thread.Start();
    }

    public string Name => _thread.Name!;

    /// <summary>Runs <paramref name="work"/> on a new worker and waits for it: for callers without a silo (the CLI).</summary>
    public static T Run<T>(string name, Func<T> work)
    {
        using var worker = new TorchWorker(name);
        return worker.RunAsync(work).GetAwaiter().GetResult();
    }

    /// <inheritdoc />
    public Task<T> RunAsync<T>(Func<T> work)
    {
        var job = TorchJob.For(work, out var task);
        if (!TryPost(job))
        {
            job.Fail(Stopped());
        }

        return task;
    }

    internal ObjectDisposedException Stopped() =>
        new(Name, "The torch thread has been stopped: the silo is shutting down.");

    /// <summary>Queues an item; false once the worker has been stopped.</summary>
    internal bool TryPost(TorchItem item)
    {
        try
        {
            return _work.TryAdd(item);
        }
        catch (Exception error) when (error is InvalidOperationException or ObjectDisposedException)
        {
            return false; // stopped: adding completed, or disposed
        }
    }

    /// <summary>
    /// On this worker's thread only, from inside a running item (the rollout engine between decode steps): takes the
    /// next queued item, waiting up to <paramref name="wait"/>; false when none came (or the worker stops).
    /// </summary>
    internal bool TryTake(out TorchItem item, TimeSpan wait) => _work.TryTake(out item!, wait);

    /// <summary>On this worker's thread only: runs an item taken with <see cref="TryTake"/>, then settles the thread.</summary>
    internal void RunTaken(TorchItem item)
    {
        item.Run();
        _settle?.Invoke();
    }

    private void Loop()
    {
        bool settled = false;
        foreach (var item in _work.GetConsumingEnumerable())
        {
            if (!settled)
            {
                _settle?.Invoke(); // lazily: a worker that never gets work never touches torch
                settled = true;
            }

            RunTaken(item);
        }
    }

    /// <summary>Finishes the queued work, then stops the thread.</summary>
    public void Dispose()
    {
        _work.CompleteAdding();
        if (Thread.CurrentThread != _thread)
        {
            _thread.Join();
        }

        _work.Dispose();
    }
}
