namespace Grid.Grains.Torch;

/// <summary>
/// One unit of torch work as an <see cref="ITorchThread"/> queues it: running it completes its task with the work's
/// result or exception (it never throws); failing it completes the task with an error without running the work.
/// </summary>
internal sealed class TorchJob
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

    public void Run() => _run();

    public void Fail(Exception error) => _fail(error);
}
