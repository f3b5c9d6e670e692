using System.Runtime.ExceptionServices;

namespace Grid.Cli.Commands;

/// <summary>
/// Runs a unit of torch work synchronously on a dedicated thread: TorchSharp dispose scopes and no_grad are
/// thread-local, so torch work must never hop threads across an await (README, "Platform notes").
/// </summary>
internal static class TorchThread
{
    public static T Run<T>(Func<T> work)
    {
        T result = default!;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = work();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        }, maxStackSize: 16 * 1024 * 1024)
        { Name = "grid-torch", IsBackground = true };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result;
    }
}
