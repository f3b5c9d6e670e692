using Grid.Tasks.Counting;
using Grid.Tasks.Geometry;

namespace Grid.Tasks;

/// <summary>The built-in tasks by name, as configs and datasets refer to them.</summary>
public static class TaskCatalog
{
    private static readonly IVisualTask[] s_tasks = [new CountingTask(), new GeometryTask()];

    public static IReadOnlyList<IVisualTask> All => s_tasks;

    public static IReadOnlyList<string> Names { get; } = s_tasks.Select(t => t.Name).ToArray();

    /// <exception cref="ArgumentException">No task has that name; the message lists the known names.</exception>
    public static IVisualTask Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return TryGet(name, out var task)
            ? task
            : throw new ArgumentException(
                $"Unknown task \"{name}\". Known tasks: {string.Join(", ", Names)}.", nameof(name));
    }

    /// <summary>Exact, case-sensitive match, so that a name in a dataset means one thing.</summary>
    public static bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IVisualTask? task)
    {
        task = s_tasks.FirstOrDefault(t => t.Name == name);
        return task is not null;
    }
}
