using System.Collections.Concurrent;

namespace Grid.Grains.Torch;

/// <summary>
/// One thread that runs torch work items one at a time, in order. TorchSharp's dispose scopes and no_grad are
/// thread-local (PLATFORM.md), so a grain never runs torch code on the Orleans scheduler: it enqueues a synchronous
/// unit of work here and awaits the task, which completes off this thread.
/// </summary>
public sealed class TorchWorker : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;

    public TorchWorker(string name)
    {
        _thread = new Thread(Loop, maxStackSize: 16 * 1024 * 1024) { Name = name, IsBackground = true };
        _thread.Start();
    }

    /// <summary>Runs <paramref name="work"/> on the worker thread; never await inside it.</summary>
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
