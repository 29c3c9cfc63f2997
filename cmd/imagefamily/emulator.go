package main

func runEmulator(args []string) int { return exitUsage }
