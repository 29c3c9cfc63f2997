output "image" {
  description = "The image the group runs."
  value       = data.google_compute_image.release.self_link
}

output "instance_template" {
  value = google_compute_instance_template.app.self_link
}

output "instance_group" {
  value = google_compute_instance_group_manager.app.instance_group
}
