using Microsoft.Extensions.Hosting;

namespace Grid.Cli.Embedded;

/// <summary>
/// The embedded grid's host leaves SIGINT and SIGTERM to the command (<see cref="Commands.CommandRunner"/>), which
/// stops the run between steps and then the silo; the default console lifetime would stop the silo under the run.
/// </summary>
internal sealed class EmbeddedHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
