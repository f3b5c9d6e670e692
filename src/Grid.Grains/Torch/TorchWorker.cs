using System.Collections.Concurrent;

namespace Grid.Grains.Torch;

/// <summary>
/// A dedicated <see cref="ITorchThread"/>: a learner on a GPU has one of its own. On the CPU, a silo's torch work
/// shares the rollout engine's thread instead (<see cref="Rollouts.RolloutEngine"/> says why).
/// </summary>
public sealed class TorchWorker : ITorchThread, IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;

    public TorchWorker(string name)
    {
        _thread = new Thread(Loop, maxStackSize: 16 * 1024 * 1024) { Name = name, IsBackground = true };
        _thread.Start();
    }

    /// <inheritdoc />
    public Task<T> RunAsync<T>(Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            _work.Add(() =>
            {
                try
                {
                    done.SetResult(work());
                }
                catch (Exception error)
                {
                    done.SetException(error);
                }
            });
        }
        catch (InvalidOperationException)
        {
            done.SetException(new ObjectDisposedException(_thread.Name, "The torch worker has been stopped."));
        }

        return done.Task;
    }

    private void Loop()
    {
        foreach (var item in _work.GetConsumingEnumerable())
        {
            item();
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
