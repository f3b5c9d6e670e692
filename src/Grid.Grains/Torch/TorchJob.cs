namespace Grid.Grains.Torch;

/// <summary>
/// What a <see cref="TorchWorker"/> takes from its queue: a <see cref="TorchJob"/>, or an item of a component that
/// lives on the thread (the rollout engine's generation requests). Running an item never throws; failing it
/// completes its task with an error without running it.
/// </summary>
internal abstract class TorchItem
{
    public abstract void Run();

    public abstract void Fail(Exception error);
}

/// <summary>
/// One unit of torch work as an <see cref="ITorchThread"/> queues it: running it completes its task with the work's
/// result or exception (it never throws); failing it completes the task with an error without running the work.
/// </summary>
internal sealed class TorchJob : TorchItem
{
    private readonly Action _run;
    private readonly Action<Exception> _fail;

    private TorchJob(Action run, Action<Exception> fail)
    {
        _run = run;
        _fail = fail;
    }

    /// <summary>A job running <paramref name="work"/>; <paramref name="task"/> completes off the thread that runs it.</summary>
    public static TorchJob For<T>(Func<T> work, out Task<T> task)
    {
        ArgumentNullException.ThrowIfNull(work);
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        task = done.Task;
        return new TorchJob(() =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception error)
            {
                done.SetException(error);
            }
        }, error => done.TrySetException(error));
    }

    public override void Run() => _run();

    public override void Fail(Exception error) => _fail(error);
}
