namespace Grid.Grains.Torch;

/// <summary>
/// A thread that runs torch work items one at a time, in order. TorchSharp's dispose scopes, no_grad and thread-count
/// settings are thread-local (README, "Platform notes"), so a grain never runs torch code on the Orleans scheduler: it hands a
/// synchronous unit of work to one of these and awaits the task, which completes off that thread.
/// </summary>
public interface ITorchThread
{
    /// <summary>Runs <paramref name="work"/> on the thread; never await inside it. Fails with
    /// <see cref="ObjectDisposedException"/> once the thread has been stopped.</summary>
    Task<T> RunAsync<T>(Func<T> work);
}
