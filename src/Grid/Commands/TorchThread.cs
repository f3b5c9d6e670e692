using Grid.Grains.Torch;

namespace Grid.Cli.Commands;

/// <summary>
/// Runs a unit of torch work synchronously on a dedicated thread (a <see cref="TorchWorker"/>, as on a silo):
/// TorchSharp dispose scopes and no_grad are thread-local, so torch work must never hop threads across an await
/// (README, "Platform notes").
/// </summary>
internal static class TorchThread
{
    public static T Run<T>(Func<T> work) => TorchWorker.Run("grid-torch", work);
}
