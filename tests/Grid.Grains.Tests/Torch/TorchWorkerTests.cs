using Grid.Grains.Torch;

namespace Grid.Grains.Tests.Torch;

/// <summary>The one way Grid pins torch work to a thread: the silo's thread, a GPU learner's, the CLI's.</summary>
public sealed class TorchWorkerTests
{
    [Fact]
    public async Task Work_that_throws_fails_its_own_task_and_the_worker_serves_on_until_it_stops()
    {
        var worker = new TorchWorker("grid-test");

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => worker.RunAsync<int>(() => throw new InvalidDataException("bad")));
        var (after, thread) = await worker.RunAsync(() => (7, Thread.CurrentThread.Name));
        worker.Dispose();
        var stopped = await Assert.ThrowsAsync<ObjectDisposedException>(() => worker.RunAsync(() => 1));

        Assert.Equal("bad", error.Message);
        Assert.Equal((7, "grid-test"), (after, thread));
        Assert.Contains("shutting down", stopped.Message);
    }

    [Fact]
    public async Task The_worker_settles_its_thread_before_the_first_job_and_after_every_job()
    {
        int settled = 0;
        using var worker = new TorchWorker("grid-test", () => settled++);

        int before = await worker.RunAsync(() => settled);
        int between = await worker.RunAsync(() => settled);

        Assert.Equal(1, before);
        Assert.Equal(2, between);
    }

    [Fact]
    public void Run_waits_for_the_work_on_a_thread_of_its_own_and_rethrows_its_exception()
    {
        string? name = TorchWorker.Run("grid-torch", () => Thread.CurrentThread.Name);
        var error = Assert.Throws<InvalidOperationException>(() => TorchWorker.Run<int>("grid-torch", () => throw new InvalidOperationException("x")));

        Assert.Equal("grid-torch", name);
        Assert.NotEqual(Environment.CurrentManagedThreadId, TorchWorker.Run("grid-torch", () => Environment.CurrentManagedThreadId));
        Assert.Equal("x", error.Message);
    }
}
