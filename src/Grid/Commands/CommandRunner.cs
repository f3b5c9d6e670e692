using System.CommandLine;
using Grid.Learning.Settings;
using Spectre.Console;

namespace Grid.Cli.Commands;

/// <summary>Runs the parsed command and turns the errors users can fix into one clear line and exit code 2.</summary>
internal static class CommandRunner
{
    public static async Task<int> InvokeAsync(RootCommand root, string[] args)
    {
        try
        {
            return await root.Parse(args).InvokeAsync(new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                // A stopping silo hands off its grains and leaves the cluster; give it time before the process exits.
                ProcessTerminationTimeout = TimeSpan.FromSeconds(35),
            });
        }
        catch (Exception e) when (e is InvalidSettingException or FileNotFoundException or DirectoryNotFoundException
                                     or InvalidDataException or Tasks.Datasets.DatasetFormatException
                                     or Hosting.Configuration.GridConfigurationException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            AnsiConsole.MarkupLine("[yellow]cancelled[/]");
            return 130;
        }
    }
}
