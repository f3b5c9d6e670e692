using System.Collections.Concurrent;

namespace Grid.Grains.Torch;

/// <summary>
/// A dedicated <see cref="ITorchThread"/>: a learner on a GPU has one of its own. On the CPU, a silo's torch work
/// shares the rollout engine's thread instead (<see cref="Rollouts.RolloutEngine"/> says why).
/// </summary>
public sealed class TorchWorker : ITorchThread, IDisposable
{
    private readonly BlockingCollection<TorchJob> _work = new();
    private readonly Thread _thread;

    public TorchWorker(string name)
    {
        _thread = new Thread(Loop, maxStackSize: 16 * 1024 * 1024) { Name = name, IsBackground = true };
        _thread.Start();
    }

    /// <inheritdoc />
    public Task<T> RunAsync<T>(Func<T> work)
    {
        var job = TorchJob.For(work, out var task);
        try
        {
            _work.Add(job);
        }
        catch (Exception error) when (error is InvalidOperationException or ObjectDisposedException)
        {
            job.Fail(new ObjectDisposedException(_thread.Name, "The torch worker has been stopped."));
        }

        return task;
    }

    private void Loop()
    {
        foreach (var job in _work.GetConsumingEnumerable())
        {
            job.Run();
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
